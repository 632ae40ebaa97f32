//! Comparing two schemas object by object and attribute by attribute.

use serde::Serialize;

use super::{ObjectKey, Schema};

/// One way two schemas differ. "Left" is the side being checked (the live database),
/// "right" the reference (the migrations folder, another environment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Difference {
    /// The reference has the object; the left side does not.
    Missing { object: ObjectKey },
    /// The left side has an object the reference does not.
    Extra { object: ObjectKey },
    /// Both have the object, with a different value of one attribute (`None`: not set on
    /// that side).
    Changed {
        object: ObjectKey,
        attribute: String,
        left: Option<String>,
        right: Option<String>,
    },
}

impl Difference {
    pub fn object(&self) -> &ObjectKey {
        match self {
            Difference::Missing { object }
            | Difference::Extra { object }
            | Difference::Changed { object, .. } => object,
        }
    }
}

/// Every difference between `left` and `right`, in object order.
pub fn diff(left: &Schema, right: &Schema) -> Vec<Difference> {
    let mut differences = Vec::new();
    for (key, right_object) in &right.objects {
        let Some(left_object) = left.objects.get(key) else {
            differences.push(Difference::Missing {
                object: key.clone(),
            });
            continue;
        };
        let attributes = left_object
            .attributes
            .keys()
            .chain(right_object.attributes.keys())
            .collect::<std::collections::BTreeSet<_>>();
        for attribute in attributes {
            let (l, r) = (
                left_object.attributes.get(attribute),
                right_object.attributes.get(attribute),
            );
            if l != r {
                differences.push(Difference::Changed {
                    object: key.clone(),
                    attribute: attribute.clone(),
                    left: l.cloned(),
                    right: r.cloned(),
                });
            }
        }
    }
    for key in left.objects.keys() {
        if !right.objects.contains_key(key) {
            differences.push(Difference::Extra {
                object: key.clone(),
            });
        }
    }
    differences.sort_by(|a, b| a.object().cmp(b.object()));
    differences
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Object, ObjectKind};

    #[test]
    fn names_the_object_and_the_attribute() {
        let mut live = Schema::default();
        live.insert(
            ObjectKind::Column,
            "Post.title",
            Object::default()
                .with("type", "TEXT")
                .with("nullable", "true"),
        );
        live.insert(ObjectKind::Index, "Post_slug_key", Object::text("x"));
        let mut folder = Schema::default();
        folder.insert(
            ObjectKind::Column,
            "Post.title",
            Object::default()
                .with("type", "TEXT")
                .with("nullable", "false")
                .with("default", "'untitled'"),
        );
        folder.insert(ObjectKind::View, "PostView", Object::text("y"));
        let column = ObjectKey {
            kind: ObjectKind::Column,
            name: "Post.title".into(),
        };
        assert_eq!(
            diff(&live, &folder),
            vec![
                Difference::Changed {
                    object: column.clone(),
                    attribute: "default".into(),
                    left: None,
                    right: Some("'untitled'".into()),
                },
                Difference::Changed {
                    object: column,
                    attribute: "nullable".into(),
                    left: Some("true".into()),
                    right: Some("false".into()),
                },
                Difference::Extra {
                    object: ObjectKey {
                        kind: ObjectKind::Index,
                        name: "Post_slug_key".into(),
                    },
                },
                Difference::Missing {
                    object: ObjectKey {
                        kind: ObjectKind::View,
                        name: "PostView".into(),
                    },
                },
            ]
        );
        assert_eq!(diff(&live, &live), vec![]);
    }
}
