//! The retention purge's statements on PostgreSQL's planner (C16, C17).

use anshin_store::Store;
use anshin_store_postgres::PostgresStore;
use anshin_store_postgres::scratch::ScratchDatabase;
use sqlx::{AssertSqlSafe, Connection};

/// The highest `$n` in `sql`.
fn params(sql: &str) -> usize {
    (1..=9)
        .filter(|n| sql.contains(&format!("${n}")))
        .max()
        .unwrap_or(0)
}

/// The purge runs each statement once per record (a million times for a
/// million records, in batches that must stay short): each finds its rows
/// through an index condition, never by reading a whole table or index.
/// The tables are empty, so the planner is told to avoid sequential scans
/// if it can and to plan for any parameter values; a statement no index
/// serves still shows a `Seq Scan`, or an index read whole without an
/// `Index Cond`. Before this test: the void requests' words were cleared
/// through a sequential scan (no index on `shipment_id` until migration
/// 0031), and the listings' position (`t > $2 OR (t = $2 AND id > $3)`)
/// bounded the index scan only by the latest time, so each batch read
/// the index from its start, past every entry purged before.
#[tokio::test]
async fn c17_every_purge_statement_finds_its_rows_by_an_index() {
    let db = ScratchDatabase::migrated().await.unwrap();
    let store = PostgresStore::connect_lazy(db.url(), 1).unwrap();
    store.migrate().await.unwrap();
    let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
    sqlx::raw_sql("SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan")
        .execute(&mut conn)
        .await
        .unwrap();
    for (i, sql) in anshin_store::sql::purge_statements()
        .into_iter()
        .enumerate()
    {
        sqlx::raw_sql(AssertSqlSafe(format!("PREPARE q{i} AS {sql}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let args = vec!["NULL"; params(&sql)].join(", ");
        let rows: Vec<(String,)> =
            sqlx::query_as(AssertSqlSafe(format!("EXPLAIN EXECUTE q{i}({args})")))
                .fetch_all(&mut conn)
                .await
                .unwrap();
        let plan: Vec<&str> = rows.iter().map(|(l,)| l.as_str()).collect();
        let text = plan.join("\n");
        assert!(!text.contains("Seq Scan"), "{sql}:\n{text}");
        // Every index read has a condition (the lines up to the next node).
        let mut scans = 0;
        for (n, line) in plan.iter().enumerate() {
            if line.contains("Index Scan") || line.contains("Index Only Scan") {
                scans += 1;
                let cond = plan[n + 1..]
                    .iter()
                    .take_while(|l| !l.contains("->"))
                    .any(|l| l.contains("Index Cond"));
                assert!(cond, "{sql}: an index read whole:\n{text}");
            }
        }
        assert!(scans > 0, "{sql}:\n{text}");
        if sql.starts_with("SELECT") {
            // The listing seeks to its position, not only to the latest time.
            assert!(
                plan.iter()
                    .any(|l| l.contains("Index Cond") && l.contains("ROW(")),
                "{sql}: the position does not bound the index scan:\n{text}"
            );
        }
    }
}
