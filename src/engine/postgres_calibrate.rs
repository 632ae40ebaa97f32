//! [`Calibrate`] for PostgreSQL: the throwaway table lives in a transaction that is rolled
//! back, in the URL's schema, so that its writes go through the WAL and shared buffers as
//! a migration's do (a temporary table skips both, and measured a rewrite a third
//! faster). Other sessions never see it; a login that may not create tables there gets
//! no measurement, and the forecast keeps its defaults.

use async_trait::async_trait;
use sqlx::AssertSqlSafe;

use super::calibrate::{run, server_of, timed};
use super::postgres::Postgres;
use super::{Calibrate, SAMPLE_ROWS, WorkSample, quote_ident};
use crate::Error;

#[async_trait]
impl Calibrate for Postgres {
    async fn measure_work(&mut self) -> Result<Option<WorkSample>, Error> {
        let name = format!("_safemig_calibration_{:08x}", fastrand::u32(..));
        let table = |suffix: &str| {
            format!(
                "{}.{}",
                quote_ident(&self.schema),
                quote_ident(&format!("{name}{suffix}"))
            )
        };
        let (table, parent) = (table(""), table("_parent"));
        run(self, "BEGIN").await?;
        let sample = self.sample(&table, &parent).await;
        let rolled_back = run(self, "ROLLBACK").await;
        let sample = sample?;
        rolled_back?;
        Ok(Some(sample))
    }

    fn server(&self) -> String {
        server_of(&self.url)
    }
}

impl Postgres {
    /// Each step runs in a savepoint rolled back after it, on the same filled table.
    async fn sample(&mut self, table: &str, parent: &str) -> Result<WorkSample, Error> {
        run(self, "SET LOCAL statement_timeout = '30s'").await?;
        let create = format!(
            "CREATE TABLE {table} (\"id\" BIGINT NOT NULL PRIMARY KEY, \"a\" INTEGER NOT NULL, \
             \"b\" TEXT, \"c\" INTEGER, \"d\" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        );
        run(self, &create).await?;
        let fill = format!(
            "INSERT INTO {table} (\"id\", \"a\", \"b\", \"c\") \
             SELECT g, g % 1000 + 1, md5(g::text), g FROM generate_series(1, {SAMPLE_ROWS}) g"
        );
        run(self, &fill).await?;
        let create_parent = format!(
            "CREATE TABLE {parent} (\"id\" INTEGER NOT NULL PRIMARY KEY); \
             INSERT INTO {parent} SELECT g FROM generate_series(1, 1000) g"
        );
        run(self, &create_parent).await?;
        let bytes: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT pg_total_relation_size('{}')",
            table.replace('\'', "''")
        )))
        .fetch_one(&mut self.conn)
        .await
        .map_err(self.err("measuring the server's speed"))?;
        let mut step = async |sql: String| -> Result<std::time::Duration, Error> {
            run(self, "SAVEPOINT sample").await?;
            let took = timed(run(self, &sql)).await;
            run(self, "ROLLBACK TO SAVEPOINT sample").await?;
            took
        };
        let scan = step(format!("ALTER TABLE {table} ADD CHECK (\"c\" > 0)")).await?;
        let index_a = step(format!("CREATE INDEX ON {table} (\"a\")")).await?;
        let index_b = step(format!("CREATE INDEX ON {table} (\"b\")")).await?;
        let rewrite = step(format!(
            "ALTER TABLE {table} ALTER COLUMN \"a\" SET DATA TYPE BIGINT"
        ))
        .await?;
        let data = step(format!("UPDATE {table} SET \"c\" = \"c\" + 1")).await?;
        let foreign_key = step(format!(
            "ALTER TABLE {table} ADD FOREIGN KEY (\"a\") REFERENCES {parent} (\"id\")"
        ))
        .await?;
        let mut per_row_calls = Vec::new();
        let call = |f: &str| format!("SELECT count({f}) FROM generate_series(1, {SAMPLE_ROWS})");
        let constant = step(call("1")).await?;
        for function in PER_ROW_CALLS {
            // uuid-ossp's functions exist only where the extension is installed.
            if let Ok(took) = step(call(&format!("{function}()"))).await {
                let per_row = took.saturating_sub(constant) / SAMPLE_ROWS as u32;
                per_row_calls.push((function, per_row));
            }
        }
        Ok(WorkSample {
            rows: SAMPLE_ROWS,
            bytes: u64::try_from(bytes).unwrap_or(0),
            rewrite,
            index_build: (index_a + index_b) / 2,
            scan,
            data,
            foreign_key,
            per_row_calls,
        })
    }
}

/// The volatile functions a new column's default calls that are timed: those of
/// the volatile functions `forecast` recognises in a default without side effects (not `nextval`, which would use up
/// sequence values) and callable without arguments.
const PER_ROW_CALLS: [&str; 6] = [
    "gen_random_uuid",
    "uuid_generate_v4",
    "uuid_generate_v1",
    "random",
    "clock_timestamp",
    "timeofday",
];
