//! [`Calibrate`] for MariaDB and MySQL: their DDL cannot be rolled back, and a temporary
//! table is no stand-in (InnoDB builds its indexes by copying it, three times slower, and
//! refuses it a foreign key). So the throwaway table is an ordinary one, named after the
//! connection, dropped at the end; one whose connection is gone (a measurement killed
//! half-way) is dropped by the next measurement.

use std::time::Duration;

use async_trait::async_trait;

use super::calibrate::{run, server_of, timed};
use super::mysql::Mysql;
use super::{Calibrate, SAMPLE_ROWS, WorkSample};
use crate::Error;

/// The throwaway tables' names start so: `_safemig_calibration_<connection id>` and
/// `…_parent`, which the foreign key refers to.
const PREFIX: &str = "_safemig_calibration_";

#[async_trait]
impl Calibrate for Mysql {
    async fn measure_work(&mut self) -> Result<Option<WorkSample>, Error> {
        // Keep the throwaway tables out of the binary log, so replicas do not replay
        // them, where the login may (it needs SUPER or BINLOG ADMIN); else they go there
        // as any DDL does.
        let off_binlog = run(self, "SET SESSION sql_log_bin = 0").await.is_ok();
        let sample = self.measure().await;
        if off_binlog {
            run(self, "SET SESSION sql_log_bin = 1").await?;
        }
        sample
    }

    fn server(&self) -> String {
        server_of(&self.url)
    }
}

impl Mysql {
    async fn measure(&mut self) -> Result<Option<WorkSample>, Error> {
        self.drop_abandoned_samples().await?;
        let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
            .fetch_one(&mut self.conn)
            .await
            .map_err(self.err("measuring the server's speed"))?;
        let database = self.database.replace('`', "``");
        let table = format!("`{database}`.`{PREFIX}{id}`");
        let parent = format!("`{database}`.`{PREFIX}{id}_parent`");
        let sample = self.sample(&table, &parent).await;
        let dropped = run(self, &format!("DROP TABLE IF EXISTS {table}, {parent}")).await;
        let sample = sample?;
        dropped?;
        Ok(Some(sample))
    }

    /// Drops the throwaway tables of connections that no longer exist.
    async fn drop_abandoned_samples(&mut self) -> Result<(), Error> {
        let abandoned: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_safemig\\_calibration\\_%' \
             AND CAST(SUBSTRING(TABLE_NAME, 22) AS UNSIGNED) NOT IN \
                 (SELECT ID FROM information_schema.PROCESSLIST)",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(self.err("measuring the server's speed"))?;
        for table in abandoned {
            // A login that may not drop it (another user's, whose connections this one
            // cannot see) leaves it: that does not stop the measurement.
            let drop = format!("DROP TABLE IF EXISTS `{}`", table.replace('`', "``"));
            if let Err(e) = run(self, &drop).await {
                tracing::debug!("leaving the throwaway table {table}: {e}");
            }
        }
        Ok(())
    }

    /// Each step undoes what it added before the next (a constraint, an index), cheaply;
    /// the type change, which cannot be undone cheaply, comes last.
    async fn sample(&mut self, table: &str, parent: &str) -> Result<WorkSample, Error> {
        let create = format!(
            "CREATE TABLE {table} (`id` BIGINT NOT NULL PRIMARY KEY, `a` INTEGER NOT NULL, \
             `b` VARCHAR(191) NULL, `c` INTEGER NULL, \
             `d` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) \
             DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        );
        run(self, &create).await?;
        // Ten digits joined five times: MySQL has no generate_series (nor MariaDB's
        // sequence tables), and a recursive CTE stops at 1,000 rows by default.
        let digits = "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
             UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
             UNION ALL SELECT 8 UNION ALL SELECT 9)";
        let fill = format!(
            "INSERT INTO {table} (`id`, `a`, `b`, `c`) SELECT n, n % 1000 + 1, MD5(n), n FROM \
             (SELECT d1.d + 10 * d2.d + 100 * d3.d + 1000 * d4.d + 10000 * d5.d + 1 AS n \
              FROM {digits} d1, {digits} d2, {digits} d3, {digits} d4, {digits} d5) AS s"
        );
        run(self, &fill).await?;
        let create_parent = format!(
            "CREATE TABLE {parent} (`id` INTEGER NOT NULL PRIMARY KEY) \
             SELECT n AS `id` FROM (SELECT DISTINCT `a` AS n FROM {table}) AS s"
        );
        run(self, &create_parent).await?;
        run(self, &format!("ANALYZE TABLE {table}")).await?;
        let bytes: i64 = sqlx::query_scalar(
            "SELECT CAST(DATA_LENGTH + INDEX_LENGTH AS SIGNED) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = CONCAT(?, CONNECTION_ID())",
        )
        .bind(PREFIX)
        .fetch_one(&mut self.conn)
        .await
        .map_err(self.err("measuring the server's speed"))?;
        let scan = self
            .step(
                &format!("ALTER TABLE {table} ADD CONSTRAINT `k` CHECK (`c` > 0)"),
                &format!("ALTER TABLE {table} DROP CONSTRAINT `k`"),
            )
            .await?;
        let index_a = self
            .step(
                &format!("CREATE INDEX `ia` ON {table} (`a`)"),
                &format!("DROP INDEX `ia` ON {table}"),
            )
            .await?;
        let index_b = self
            .step(
                &format!("CREATE INDEX `ib` ON {table} (`b`)"),
                &format!("DROP INDEX `ib` ON {table}"),
            )
            .await?;
        let foreign_key = self
            .step(
                &format!("ALTER TABLE {table} ADD CONSTRAINT `fk` FOREIGN KEY (`a`) REFERENCES {parent} (`id`)"),
                &format!("ALTER TABLE {table} DROP FOREIGN KEY `fk`, DROP INDEX `fk`"),
            )
            .await?;
        let data = timed(run(self, &format!("UPDATE {table} SET `c` = `c` + 1"))).await?;
        let rewrite = timed(run(
            self,
            &format!("ALTER TABLE {table} MODIFY `a` BIGINT NOT NULL"),
        ))
        .await?;
        Ok(WorkSample {
            rows: SAMPLE_ROWS,
            bytes: u64::try_from(bytes).unwrap_or(0),
            rewrite,
            index_build: (index_a + index_b) / 2,
            scan,
            data,
            foreign_key,
            per_row_calls: Vec::new(),
        })
    }

    /// How long `sql` took, `undo` run after it.
    async fn step(&mut self, sql: &str, undo: &str) -> Result<Duration, Error> {
        let took = timed(run(self, sql)).await?;
        run(self, undo).await?;
        Ok(took)
    }
}
