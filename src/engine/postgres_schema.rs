//! PostgreSQL's schema as a [`Schema`], from `pg_catalog`: one query per object kind for
//! the URL's schema, however many tables it holds. The kinds: schemas and extensions (both
//! database-wide), enums, domains, composite types, sequences, tables, columns, primary
//! keys, unique, exclusion and check constraints, foreign keys, indexes, views,
//! materialized views, functions, procedures, aggregates, triggers and policies.
//! Definitions are rendered by the server itself (`format_type`, `pg_get_expr`,
//! `pg_get_constraintdef`, `pg_get_indexdef`, `pg_get_viewdef`, `pg_get_functiondef`,
//! `pg_get_triggerdef`), because only the server renders its own definitions faithfully;
//! what is compared through such a rendering alone is marked as compared by text. Objects
//! owned by extensions (PostGIS's tables, citext's functions) and the history table are
//! left out.

use sqlx::Row;
use sqlx::postgres::{PgConnection, PgRow};

use crate::history;
use crate::schema::{Detail, Object, ObjectKind, Schema};

/// `WHERE` conditions for a `pg_class c` of the schema `$1`, other than the history table
/// (`$2`) and anything an extension owns.
const OWN_RELATION: &str = "c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) \
     AND c.relname <> $2 \
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                     AND d.objid = c.oid AND d.deptype = 'e')";

/// `WHERE` conditions for a catalog row `alias` of class `catalog` (`pg_type`, `pg_proc`)
/// whose namespace column is `namespace`: in the schema `$1` and not owned by an extension.
fn own_object(alias: &str, catalog: &str, namespace: &str) -> String {
    format!(
        "{alias}.{namespace} = (SELECT oid FROM pg_namespace WHERE nspname = $1) \
         AND $2::text IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass \
                         AND d.objid = {alias}.oid AND d.deptype = 'e')"
    )
}

/// Runs one catalog query with its two parameters: the schema (`$1`) and the history
/// table's name (`$2`). Every query binds both, so one that needs neither still names them
/// (`$1::text IS NOT NULL`): PostgreSQL refuses a bind with unused parameters.
async fn rows(
    conn: &mut PgConnection,
    schema: &str,
    sql: String,
) -> Result<Vec<PgRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(schema)
        .bind(history::TABLE)
        .fetch_all(conn)
        .await
}

fn flag(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// The schema `schema_name` as the catalog has it, with the database-wide schemas and
/// extensions, and the opt-in attributes `detail` asks for.
pub(super) async fn read(
    conn: &mut PgConnection,
    schema_name: &str,
    detail: Detail,
) -> Result<Schema, sqlx::Error> {
    let mut schema = Schema::default();
    read_schemas(conn, schema_name, &mut schema).await?;
    read_extensions(conn, schema_name, &mut schema).await?;
    read_enums(conn, schema_name, &mut schema).await?;
    read_domains(conn, schema_name, &mut schema).await?;
    read_composite_types(conn, schema_name, &mut schema).await?;
    read_sequences(conn, schema_name, &mut schema).await?;
    read_tables(conn, schema_name, &mut schema).await?;
    read_columns(conn, schema_name, &mut schema).await?;
    read_constraints(conn, schema_name, &mut schema).await?;
    read_foreign_keys(conn, schema_name, &mut schema).await?;
    read_indexes(conn, schema_name, &mut schema).await?;
    read_views(conn, schema_name, &mut schema).await?;
    read_functions(conn, schema_name, &mut schema).await?;
    read_aggregates(conn, schema_name, &mut schema).await?;
    read_triggers(conn, schema_name, &mut schema).await?;
    read_policies(conn, schema_name, &mut schema).await?;
    // Last: it adds attributes to the objects read above.
    read_detail(conn, schema_name, detail, &mut schema).await?;
    Ok(schema)
}

/// Schemas belong to the database, as extensions do: a schema created or dropped beside
/// the migrations is drift whichever schema the URL names. PostgreSQL's own and the
/// ones extensions create are left out, and so is every other schema with a history
/// of its own: it is another Prisma target (a tenant of a schema-per-tenant app), not
/// part of this one. So is `public` unless the URL names it: every database is created
/// with it, so drift's scratch database has it whatever the migrations do, while a live
/// database's `public` is often another target (left out above) — comparing its
/// existence would only ever report the template.
async fn read_schemas(
    conn: &mut PgConnection,
    schema_name: &str,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    for row in rows(
        conn,
        schema_name,
        "SELECT n.nspname::text FROM pg_namespace n \
         WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' \
           AND $1::text IS NOT NULL \
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass \
                           AND d.objid = n.oid AND d.deptype = 'e') \
           AND (n.nspname = $1 OR (n.nspname <> 'public' AND NOT EXISTS (SELECT 1 FROM pg_class c \
                WHERE c.relnamespace = n.oid AND c.relname = $2 AND c.relkind IN ('r', 'p'))))"
            .into(),
    )
    .await?
    {
        schema.insert(
            ObjectKind::Schema,
            row.try_get::<String, _>(0)?,
            Object::default(),
        );
    }
    Ok(())
}

/// Extensions belong to the database; each one's schema is an attribute.
async fn read_extensions(
    conn: &mut PgConnection,
    schema_name: &str,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    for row in rows(
        conn,
        schema_name,
        "SELECT e.extname::text, e.extversion, n.nspname::text FROM pg_extension e \
         JOIN pg_namespace n ON n.oid = e.extnamespace \
         WHERE e.extname <> 'plpgsql' AND $1::text IS NOT NULL AND $2::text IS NOT NULL"
            .into(),
    )
    .await?
    {
        schema.insert(
            ObjectKind::Extension,
            row.try_get::<String, _>(0)?,
            Object::default()
                .with("version", row.try_get::<String, _>(1)?)
                .with("schema", row.try_get::<String, _>(2)?),
        );
    }
    Ok(())
}

/// Enums, with their labels in order.
async fn read_enums(
    conn: &mut PgConnection,
    schema_name: &str,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SELECT t.typname::text, string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder) \
         FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid \
         WHERE {} GROUP BY t.typname",
        own_object("t", "pg_type", "typnamespace")
    );
    for row in rows(conn, schema_name, sql).await? {
        schema.insert(
            ObjectKind::Enum,
            row.try_get::<String, _>(0)?,
            Object::default().with("labels", row.try_get::<String, _>(1)?),
        );
    }
    Ok(())
}

/// Domains: the base type with its modifiers, NOT NULL, the default, a collation other
/// than the base type's, and the CHECK constraints by name (`NOT VALID` is in their
/// rendering).
async fn read_domains(
    conn: &mut PgConnection,
    schema_name: &str,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SELECT t.typname::text, format_type(t.typbasetype, t.typtypmod), t.typnotnull, \
                t.typdefault, \
                CASE WHEN t.typcollation <> b.typcollation THEN co.collname::text END, \
                (SELECT string_agg(con.conname || ': ' || pg_get_constraintdef(con.oid), \
                                   ', ' ORDER BY con.conname) \
                 FROM pg_constraint con WHERE con.contypid = t.oid) \
         FROM pg_type t JOIN pg_type b ON b.oid = t.typbasetype \
         LEFT JOIN pg_collation co ON co.oid = t.typcollation \
         WHERE t.typtype = 'd' AND {}",
        own_object("t", "pg_type", "typnamespace")
    );
    for row in rows(conn, schema_name, sql).await? {
        let mut object = Object::default()
            .with("type", row.try_get::<String, _>(1)?)
            .with("not_null", flag(row.try_get(2)?));
        for (i, attribute) in [(3, "default"), (4, "collation"), (5, "checks")] {
            if let Some(value) = row.try_get::<Option<String>, _>(i)? {
                object = object.with(attribute, value);
            }
        }
        schema.insert(ObjectKind::Domain, row.try_get::<String, _>(0)?, object);
    }
    Ok(())
}

/// Composite types: their attributes in order, each with its type and a collation other
/// than its type's.
async fn read_composite_types(
    conn: &mut PgConnection,
    schema_name: &str,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SELECT c.relname::text, \
                (SELECT string_agg(quote_ident(a.attname) || ' ' \
                                   || format_type(a.atttypid, a.atttypmod) \
                                   || CASE WHEN a.attcollation <> t.typcollation \
                                      THEN ' COLLATE ' || quote_ident(co.collname) \
                                      ELSE '' END, ', ' ORDER BY a.attnum) \
                 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
                 LEFT JOIN pg_collation co ON co.oid = a.attcollation \
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) \
         FROM pg_class c WHERE c.relkind = 'c' AND {OWN_RELATION}"
    );
    for row in rows(conn, schema_name, sql).await? {
        let attributes: Option<String> = row.try_get(1)?;
        schema.insert(
            ObjectKind::CompositeType,
            row.try_get::<String, _>(0)?,
            Object::default().with("attributes", attributes.unwrap_or_default()),
        );
    }
    Ok(())
}

/// Sequences, but not the ones behind identity columns (the column says those); never
/// the current value, which is data.
async fn read_sequences(
    conn: &mut PgConnection,
    schema_name: &str,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SELECT c.relname::text, format_type(s.seqtypid, NULL), s.seqstart::text, \
                s.seqincrement::text, s.seqmin::text, s.seqmax::text, s.seqcache::text, \
                s.seqcycle, \
                (SELECT t.relname || '.' || a.attname FROM pg_depend d \
                 JOIN pg_class t ON t.oid = d.refobjid \
                 JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
                 WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid \
                   AND d.deptype = 'a' LIMIT 1) \
         FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid \
         WHERE {OWN_RELATION} AND NOT EXISTS (SELECT 1 FROM pg_depend d \
               WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i')"
    );
    for row in rows(conn, schema_name, sql).await? {
        let mut object = Object::default();
        for (i, attribute) in ["type", "start", "increment", "min", "max", "cache"]
            .into_iter()
            .enumerate()
        {
            object = object.with(attribute, row.try_get::<String, _>(i + 1)?);
        }
        object = object.with("cycle", flag(row.try_get(7)?));
        if let Some(owner) = row.try_get::<Option<String>, _>(8)? {
            object = object.with("owned_by", owner);
        }
        schema.insert(ObjectKind::Sequence, row.try_get::<String, _>(0)?, object);
    }
    Ok(())
}

/// Tables: unlogged or not, row security, partitioning and inheritance.
async fn read_tables(
    conn: &mut PgConnection,
    schema_name: &str,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SELECT c.relname::text, c.relpersistence = 'u', pg_get_partkeydef(c.oid), \
                pg_get_expr(c.relpartbound, c.oid), c.relrowsecurity, c.relforcerowsecurity, \
                (SELECT string_agg(p.relname::text, ', ' ORDER BY p.relname) FROM pg_inherits i \
                 JOIN pg_class p ON p.oid = i.inhparent WHERE i.inhrelid = c.oid) \
         FROM pg_class c WHERE c.relkind IN ('r', 'p') AND {OWN_RELATION}"
    );
    for row in rows(conn, schema_name, sql).await? {
        let mut object = Object::default()
            .with("unlogged", flag(row.try_get(1)?))
            .with("row_security", flag(row.try_get(4)?))
            .with("force_row_security", flag(row.try_get(5)?));
        for (i, attribute) in [
            (2, "partition_key"),
            (3, "partition_bound"),
            (6, "inherits"),
        ] {
            if let Some(value) = row.try_get::<Option<String>, _>(i)? {
                object = object.with(attribute, value);
            }
        }
        schema.insert(ObjectKind::Table, row.try_get::<String, _>(0)?, object);
    }
    Ok(())
}

/// Columns: type, nullability, default or generation expression, identity, collation,
/// and an identity column's sequence options. The sequence is looked up only for identity
/// columns, and by `refclassid` first: that is the leading column of `pg_depend`'s
/// reference index, and without it every column scanned all of `pg_depend` (10,000 tables
/// took ten minutes instead of two seconds).
async fn read_columns(
    conn: &mut PgConnection,
    schema_name: &str,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid), a.attidentity::text, \
                a.attgenerated::text, \
                CASE WHEN a.attcollation <> t.typcollation THEN co.collname::text END, \
                CASE WHEN a.attidentity <> '' THEN \
                (SELECT format('%s start %s increment %s min %s max %s cache %s%s', \
                               format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, \
                               s.seqmin, s.seqmax, s.seqcache, \
                               CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END) \
                 FROM pg_depend d JOIN pg_sequence s ON s.seqrelid = d.objid \
                 WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = a.attrelid \
                   AND d.refobjsubid = a.attnum AND d.classid = 'pg_class'::regclass \
                   AND d.deptype = 'i') END \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
         LEFT JOIN pg_collation co ON co.oid = a.attcollation \
         WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
           AND {OWN_RELATION}"
    );
    for row in rows(conn, schema_name, sql).await? {
        let (table, column): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        let generated: String = row.try_get(6)?;
        let identity: String = row.try_get(5)?;
        let mut object = Object::default()
            .with("type", row.try_get::<String, _>(2)?)
            .with("nullable", flag(!row.try_get::<bool, _>(3)?));
        if let Some(expression) = row.try_get::<Option<String>, _>(4)? {
            // A generated column's expression is kept where a default would be.
            let attribute = if generated.is_empty() {
                "default"
            } else {
                "generated"
            };
            object = object.with(attribute, expression);
        }
        match identity.as_str() {
            "a" => object = object.with("identity", "always"),
            "d" => object = object.with("identity", "by default"),
            _ => {}
        }
        if let Some(collation) = row.try_get::<Option<String>, _>(7)? {
            object = object.with("collation", collation);
        }
        // An identity column's sequence options, which ALTER COLUMN … SET INCREMENT
        // changes; its current value is data.
        if let Some(sequence) = row.try_get::<Option<String>, _>(8)? {
            object = object.with("identity_sequence", sequence);
        }
        schema.insert(ObjectKind::Column, format!("{table}.{column}"), object);
    }
    Ok(())
}

/// Primary keys, unique, exclusion and check constraints, by their definition.
async fn read_constraints(
    conn: &mut PgConnection,
    schema_name: &str,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SELECT c.relname::text, con.conname::text, con.contype::text, \
                pg_get_constraintdef(con.oid), con.convalidated \
         FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
         WHERE con.contype IN ('p', 'u', 'x', 'c') AND {OWN_RELATION}"
    );
    for row in rows(conn, schema_name, sql).await? {
        let (table, name, kind): (String, String, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let kind = match kind.as_str() {
            "p" => ObjectKind::PrimaryKey,
            "u" => ObjectKind::Unique,
            "x" => ObjectKind::Exclusion,
            _ => ObjectKind::Check,
        };
        let object =
            Object::text(row.try_get::<String, _>(3)?).with("validated", flag(row.try_get(4)?));
        schema.insert(kind, format!("{table}.{name}"), object);
    }
    Ok(())
}

/// Indexes that do not back a constraint (those are the constraint); an invalid one (a
/// failed CONCURRENTLY build) is drift.
async fn read_indexes(
    conn: &mut PgConnection,
    schema_name: &str,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SELECT i.relname::text, c.relname::text, pg_get_indexdef(x.indexrelid), \
                x.indisvalid AND x.indisready \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class c ON c.oid = x.indrelid \
         WHERE {OWN_RELATION} AND NOT EXISTS (SELECT 1 FROM pg_constraint con \
               WHERE con.conindid = x.indexrelid AND con.contype IN ('p', 'u', 'x'))"
    );
    for row in rows(conn, schema_name, sql).await? {
        schema.insert(
            ObjectKind::Index,
            row.try_get::<String, _>(0)?,
            Object::text(row.try_get::<String, _>(2)?)
                .with("table", row.try_get::<String, _>(1)?)
                .with("valid", flag(row.try_get(3)?)),
        );
    }
    Ok(())
}

/// Views, with their options (`security_barrier`, `check_option`, `security_invoker`),
/// and materialized views, whose indexes are read with the tables'.
async fn read_views(
    conn: &mut PgConnection,
    schema_name: &str,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SELECT c.relname::text, c.relkind = 'm', pg_get_viewdef(c.oid, true), \
                array_to_string(c.reloptions, ', ') \
         FROM pg_class c WHERE c.relkind IN ('v', 'm') AND {OWN_RELATION}"
    );
    for row in rows(conn, schema_name, sql).await? {
        let kind = if row.try_get(1)? {
            ObjectKind::MaterializedView
        } else {
            ObjectKind::View
        };
        let mut object = Object::text(row.try_get::<String, _>(2)?);
        if let Some(options) = row.try_get::<Option<String>, _>(3)? {
            object = object.with("options", options);
        }
        schema.insert(kind, row.try_get::<String, _>(0)?, object);
    }
    Ok(())
}

/// Functions (window functions among them) and procedures, by their whole definition.
async fn read_functions(
    conn: &mut PgConnection,
    schema_name: &str,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', \
                p.prokind = 'p', pg_get_functiondef(p.oid) \
         FROM pg_proc p WHERE p.prokind IN ('f', 'w', 'p') AND {}",
        own_object("p", "pg_proc", "pronamespace")
    );
    for row in rows(conn, schema_name, sql).await? {
        let kind = if row.try_get(1)? {
            ObjectKind::Procedure
        } else {
            ObjectKind::Function
        };
        schema.insert(
            kind,
            row.try_get::<String, _>(0)?,
            Object::text(row.try_get::<String, _>(2)?),
        );
    }
    Ok(())
}

/// Triggers, by their definition, and whether they are enabled.
async fn read_triggers(
    conn: &mut PgConnection,
    schema_name: &str,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SELECT c.relname::text, t.tgname::text, pg_get_triggerdef(t.oid, true), \
                t.tgenabled::text \
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
         WHERE NOT t.tgisinternal AND {OWN_RELATION}"
    );
    for row in rows(conn, schema_name, sql).await? {
        let (table, name): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        let enabled: String = row.try_get(3)?;
        schema.insert(
            ObjectKind::Trigger,
            format!("{table}.{name}"),
            Object::text(row.try_get::<String, _>(2)?).with("enabled", enabled),
        );
    }
    Ok(())
}

/// Row-level security policies: command, roles and expressions.
async fn read_policies(
    conn: &mut PgConnection,
    schema_name: &str,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SELECT c.relname::text, p.polname::text, p.polcmd::text, p.polpermissive, \
                pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid), \
                (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE r::regrole::text END, \
                                   ', ' ORDER BY 1) FROM unnest(p.polroles) r) \
         FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE {OWN_RELATION}"
    );
    for row in rows(conn, schema_name, sql).await? {
        let (table, name): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        let mut object = Object::default()
            .with("command", row.try_get::<String, _>(2)?)
            .with("permissive", flag(row.try_get(3)?));
        for (i, attribute) in [(4, "using"), (5, "with_check"), (6, "roles")] {
            if let Some(value) = row.try_get::<Option<String>, _>(i)? {
                object = object.with(attribute, value);
            }
        }
        schema.insert(ObjectKind::Policy, format!("{table}.{name}"), object);
    }
    Ok(())
}

/// The letter `pg_constraint` stores for a foreign key's action, as SQL says it.
fn action(letter: &str) -> &'static str {
    match letter {
        "r" => "restrict",
        "c" => "cascade",
        "n" => "set null",
        "d" => "set default",
        _ => "no action",
    }
}

/// Foreign keys attribute by attribute, so that a changed action, match type or deferral is
/// named as such. The columns `ON DELETE SET NULL (…)` names (PostgreSQL 15) are read
/// through `to_jsonb`, so the query runs on servers whose catalog lacks them.
async fn read_foreign_keys(
    conn: &mut PgConnection,
    schema_name: &str,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    /// The names of `attnums`, an expression yielding the column numbers of `relation`.
    fn names(attnums: &str, relation: &str) -> String {
        format!(
            "(SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.i) \
              FROM {attnums} WITH ORDINALITY k(n, i) \
              JOIN pg_attribute a ON a.attrelid = {relation} AND a.attnum = k.n::int2)"
        )
    }
    let set_columns = "jsonb_array_elements_text(CASE WHEN jsonb_typeof(to_jsonb(con) -> \
                       'confdelsetcols') = 'array' THEN to_jsonb(con) -> 'confdelsetcols' END)";
    let sql = format!(
        "SELECT c.relname::text, con.conname::text, {}, \
                CASE WHEN fn.nspname = $1 THEN '' ELSE quote_ident(fn.nspname) || '.' END \
                || quote_ident(f.relname) || '(' || {} || ')', \
                con.confupdtype::text, con.confdeltype::text, con.confmatchtype::text, \
                con.condeferrable, con.condeferred, con.convalidated, {} \
         FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
         JOIN pg_class f ON f.oid = con.confrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace \
         WHERE con.contype = 'f' AND {OWN_RELATION}",
        names("unnest(con.conkey)", "con.conrelid"),
        names("unnest(con.confkey)", "con.confrelid"),
        names(set_columns, "con.conrelid"),
    );
    for row in rows(conn, schema_name, sql).await? {
        let (table, name): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        let mut on_delete = action(&row.try_get::<String, _>(5)?).to_string();
        if let Some(columns) = row.try_get::<Option<String>, _>(10)? {
            on_delete.push_str(&format!(" ({columns})"));
        }
        let match_type = match row.try_get::<String, _>(6)?.as_str() {
            "f" => "full",
            "p" => "partial",
            _ => "simple",
        };
        let deferrable = match (row.try_get(7)?, row.try_get(8)?) {
            (false, _) => "not deferrable",
            (true, false) => "deferrable initially immediate",
            (true, true) => "deferrable initially deferred",
        };
        schema.insert(
            ObjectKind::ForeignKey,
            format!("{table}.{name}"),
            Object::default()
                .with("columns", row.try_get::<String, _>(2)?)
                .with("references", row.try_get::<String, _>(3)?)
                .with("on_update", action(&row.try_get::<String, _>(4)?))
                .with("on_delete", on_delete)
                .with("match", match_type)
                .with("deferrable", deferrable)
                .with("validated", flag(row.try_get(9)?)),
        );
    }
    Ok(())
}

/// Aggregates, which have no `pg_get_functiondef`: their parts from `pg_aggregate`, each
/// rendered by the server (`regproc`, `format_type`).
async fn read_aggregates(
    conn: &mut PgConnection,
    schema_name: &str,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', \
                ag.aggtransfn::regproc::text, format_type(ag.aggtranstype, NULL), \
                ag.aggfinalfn::regproc::text, ag.aggcombinefn::regproc::text, \
                ag.aggsortop::regoperator::text, ag.aggkind::text, \
                format_type(p.prorettype, NULL), ag.agginitval \
         FROM pg_proc p JOIN pg_aggregate ag ON ag.aggfnoid = p.oid \
         WHERE p.prokind = 'a' AND {}",
        own_object("p", "pg_proc", "pronamespace")
    );
    for row in rows(conn, schema_name, sql).await? {
        let mut object = Object::default();
        for (i, attribute) in [
            "state_function",
            "state_type",
            "final_function",
            "combine_function",
            "sort_operator",
            "kind",
            "returns",
        ]
        .into_iter()
        .enumerate()
        {
            object = object.with(attribute, row.try_get::<String, _>(i + 1)?);
        }
        if let Some(initial) = row.try_get::<Option<String>, _>(8)? {
            object = object.with("initial_condition", initial);
        }
        schema.insert(ObjectKind::Aggregate, row.try_get::<String, _>(0)?, object);
    }
    Ok(())
}

/// The opt-in attributes ([`Detail`]), added to the objects already read: one query per
/// catalog (relations, routines, types, the schema, columns), each returning the object's
/// kind code, name, owner, grants and comment.
async fn read_detail(
    conn: &mut PgConnection,
    schema_name: &str,
    detail: Detail,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    if detail.owners || detail.privileges || detail.comments {
        let catalogs = [
            format!(
                "SELECT c.relkind::text, c.relname::text, pg_get_userbyid(c.relowner)::text, \
                        c.relacl::text, obj_description(c.oid, 'pg_class') \
                 FROM pg_class c WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'i') \
                   AND {OWN_RELATION}"
            ),
            format!(
                "SELECT 'P' || p.prokind::text, \
                        p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', \
                        pg_get_userbyid(p.proowner)::text, p.proacl::text, \
                        obj_description(p.oid, 'pg_proc') \
                 FROM pg_proc p WHERE {}",
                own_object("p", "pg_proc", "pronamespace")
            ),
            format!(
                "SELECT 'T' || t.typtype::text, t.typname::text, pg_get_userbyid(t.typowner)::text, \
                        t.typacl::text, obj_description(t.oid, 'pg_type') \
                 FROM pg_type t WHERE t.typtype IN ('e', 'd', 'c') AND {}",
                own_object("t", "pg_type", "typnamespace")
            ),
            "SELECT 'N', n.nspname::text, pg_get_userbyid(n.nspowner)::text, n.nspacl::text, \
                    obj_description(n.oid, 'pg_namespace') \
             FROM pg_namespace n WHERE n.nspname = $1 AND $2::text IS NOT NULL"
                .to_string(),
        ];
        for sql in catalogs {
            for row in rows(conn, schema_name, sql).await? {
                let code: String = row.try_get(0)?;
                let Some(kind) = kind_of(&code) else {
                    continue;
                };
                let name: String = row.try_get(1)?;
                for (wanted, i, attribute) in [
                    (detail.owners, 2, "owner"),
                    (detail.privileges, 3, "privileges"),
                    (detail.comments, 4, "comment"),
                ] {
                    if let Some(value) = row.try_get::<Option<String>, _>(i)?.filter(|_| wanted) {
                        schema.set(kind, &name, attribute, value);
                    }
                }
            }
        }
    }
    if detail.privileges {
        for row in rows(
            conn,
            schema_name,
            "SELECT string_agg(d.defaclobjtype::text || ' ' || d.defaclacl::text, '; ' \
                               ORDER BY d.defaclobjtype, d.defaclacl::text) \
             FROM pg_default_acl d \
             WHERE d.defaclnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) \
               AND $2::text IS NOT NULL"
                .into(),
        )
        .await?
        {
            if let Some(value) = row.try_get::<Option<String>, _>(0)? {
                schema.set(ObjectKind::Schema, schema_name, "default_privileges", value);
            }
        }
    }
    if detail.comments || detail.column_order {
        for row in rows(
            conn,
            schema_name,
            format!(
                "SELECT c.relname::text, a.attname::text, col_description(c.oid, a.attnum), \
                        (row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum))::text \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
                   AND {OWN_RELATION}"
            ),
        )
        .await?
        {
            let (table, column): (String, String) = (row.try_get(0)?, row.try_get(1)?);
            let name = format!("{table}.{column}");
            if let Some(comment) = row
                .try_get::<Option<String>, _>(2)?
                .filter(|_| detail.comments)
            {
                schema.set(ObjectKind::Column, &name, "comment", comment);
            }
            if detail.column_order {
                schema.set(ObjectKind::Column, &name, "position", row.try_get(3)?);
            }
        }
    }
    Ok(())
}

/// The object kind of a catalog row's code: `pg_class.relkind`, `P` and `pg_proc.prokind`,
/// `T` and `pg_type.typtype`, `N` for the schema.
fn kind_of(code: &str) -> Option<ObjectKind> {
    Some(match code {
        "r" | "p" => ObjectKind::Table,
        "v" => ObjectKind::View,
        "m" => ObjectKind::MaterializedView,
        "S" => ObjectKind::Sequence,
        "i" => ObjectKind::Index,
        "Pf" | "Pw" => ObjectKind::Function,
        "Pp" => ObjectKind::Procedure,
        "Pa" => ObjectKind::Aggregate,
        "Te" => ObjectKind::Enum,
        "Td" => ObjectKind::Domain,
        "Tc" => ObjectKind::CompositeType,
        "N" => ObjectKind::Schema,
        _ => return None,
    })
}
