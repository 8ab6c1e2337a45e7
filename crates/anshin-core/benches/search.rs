//! Catalog search latency over 100,000 items with Japanese titles, on
//! SQLite (FTS5 trigram) and PostgreSQL (pg_trgm), through the store's
//! `ShopRepo::search` exactly as the search page calls it (the query
//! parsed by `shops::SearchRequest`, one page of 24 plus one).
//!
//! `cargo bench -p anshin-core --bench search [-- ITEMS RUNS]`
//! (defaults 100000 items, 60 runs per query). PostgreSQL from
//! `ANSHIN_TEST_POSTGRES_URL` or the test default (a scratch database,
//! dropped at the end). Prints p50/p99 per query and backend; the
//! figures and the machine are in bench/README.md.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::disallowed_methods
)]

use std::time::{Duration, Instant};

use anshin_core::shops::SearchRequest;
use anshin_core::shops::search::search_text;
use anshin_domain::{ItemDescription, ItemTitle};
use anshin_store::Store;
use anshin_store_postgres::PostgresStore;
use anshin_store_postgres::scratch::ScratchDatabase;
use anshin_store_sqlite::SqliteStore;
use uuid::Uuid;

const ADJECTIVES: [&str; 24] = [
    "青い",
    "赤い",
    "白い",
    "黒い",
    "手作りの",
    "北欧風の",
    "陶器の",
    "木製の",
    "和紙の",
    "藍染めの",
    "小さな",
    "大きな",
    "ふんわり",
    "レトロな",
    "刺繍入りの",
    "真鍮の",
    "ガラスの",
    "革の",
    "帆布の",
    "波佐見焼の",
    "有田焼の",
    "漆塗りの",
    "麻の",
    "銀の",
];
const NOUNS: [&str; 30] = [
    "マグカップ",
    "豆皿",
    "トートバッグ",
    "ピアス",
    "手ぬぐい",
    "ブローチ",
    "ノート",
    "ポーチ",
    "花瓶",
    "箸置き",
    "コースター",
    "ランプ",
    "ブックカバー",
    "がま口",
    "イヤリング",
    "指輪",
    "茶碗",
    "湯呑み",
    "急須",
    "風呂敷",
    "ストール",
    "キーホルダー",
    "しおり",
    "ポストカード",
    "ぬいぐるみ",
    "帽子",
    "エプロン",
    "財布",
    "名刺入れ",
    "スマホケース",
];
const MOTIFS: [&str; 12] = [
    "猫",
    "犬",
    "桜",
    "富士山",
    "うさぎ",
    "金魚",
    "紫陽花",
    "月",
    "星",
    "鳥",
    "くま",
    "椿",
];

/// A small deterministic generator (the same catalog every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

struct Row {
    id: Uuid,
    title: String,
    price: i64,
    status: &'static str,
    search: String,
    created: i64,
}

fn catalog(n: usize) -> Vec<Row> {
    let mut g = Lcg(42);
    (0..n)
        .map(|i| {
            let title = format!(
                "{}{}の{} {}",
                ADJECTIVES[g.next() % ADJECTIVES.len()],
                MOTIFS[g.next() % MOTIFS.len()],
                NOUNS[g.next() % NOUNS.len()],
                if g.next().is_multiple_of(3) {
                    "2個セット".to_owned()
                } else {
                    format!("No.{}", g.next() % 10_000)
                }
            );
            let description = "作家が一点ずつ手作りしています。";
            let t = ItemTitle::parse(&title).unwrap();
            let d = ItemDescription::parse(description).unwrap();
            // 90% on sale, 5% sold out, 5% drafts (not public).
            let status = match g.next() % 20 {
                0 => "sold_out",
                1 => "draft",
                _ => "on_sale",
            };
            Row {
                id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | i as u128),
                title,
                price: 300 + (g.next() % 200) as i64 * 50,
                status,
                search: search_text(&t, &d),
                created: 1_767_225_600_000_000 + i as i64 * 1_000_000,
            }
        })
        .collect()
}

/// The queries a buyer types, and what each exercises.
fn queries() -> Vec<(&'static str, SearchRequest)> {
    let q = |q: &str| SearchRequest {
        q: q.into(),
        ..SearchRequest::default()
    };
    vec![
        ("browse, newest (no keyword)", SearchRequest::default()),
        ("common word (マグカップ, ~3%)", q("マグカップ")),
        (
            "common word, price asc",
            SearchRequest {
                q: "マグカップ".into(),
                sort: "price_asc".into(),
                ..SearchRequest::default()
            },
        ),
        ("rare phrase (北欧風の猫)", q("北欧風の猫")),
        ("two words (手作り ピアス)", q("手作り ピアス")),
        ("word in every item (手作り)", q("手作り")),
        ("2 characters, LIKE (豆皿)", q("豆皿")),
        ("1 character, LIKE (猫)", q("猫")),
        ("no match (存在しない商品)", q("存在しない商品")),
        (
            "word + price 1000-3000, price asc",
            SearchRequest {
                q: "マグカップ".into(),
                min: "1000".into(),
                max: "3000".into(),
                sort: "price_asc".into(),
                page: String::new(),
            },
        ),
        (
            "common word, page 10",
            SearchRequest {
                q: "ピアス".into(),
                page: "10".into(),
                ..SearchRequest::default()
            },
        ),
    ]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Runs every query `runs` times; returns each query's result ids (the
/// two backends must agree).
async fn run(name: &str, store: &dyn Store, runs: usize) -> Vec<Vec<uuid::Uuid>> {
    let mut results = Vec::new();
    println!("\n{name}: p50 / p99 / max in ms over {runs} runs (results on page 1)");
    let mut all = Vec::new();
    for (label, req) in queries() {
        let parsed = req.parse(None).unwrap();
        // Warm-up (caches, plans).
        for _ in 0..3 {
            store.shops().search(&parsed.query).await.unwrap();
        }
        let mut times = Vec::with_capacity(runs);
        let mut found = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            found = store.shops().search(&parsed.query).await.unwrap();
            times.push(t.elapsed());
        }
        results.push(found.iter().map(|i| i.id.as_uuid()).collect());
        let found = found.len();
        times.sort();
        all.extend_from_slice(&times);
        println!(
            "| {label} | {} | {} | {} | {found} |",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            ms(*times.last().unwrap())
        );
    }
    all.sort();
    println!(
        "| all queries | {} | {} | {} | |",
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.99)),
        ms(*all.last().unwrap())
    );
    results
}

const SETUP: [&str; 2] = [
    "INSERT INTO members (id, email, display_name, language, created_at) VALUES ($1, $2, 'bench', 'ja', 0)",
    "INSERT INTO shops (id, owner_id, name, description, status, created_at, updated_at) VALUES ($3, $1, $4, '', 'open', 0, 0)",
];
const INSERT: &str = "INSERT INTO items (id, shop_id, title, description, price_yen, stock, status, search_text, created_at, updated_at) VALUES ";
const SHOPS: usize = 500;

fn shop_id(i: usize) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_9000_0000_0000_0000 | i as u128)
}

macro_rules! load {
    ($pool:expr, $rows:expr) => {{
        let pool = $pool;
        for s in 0..SHOPS {
            let member = Uuid::from_u128(0x0190_0000_0000_7000_a000_0000_0000_0000 | s as u128);
            for sql in SETUP {
                sqlx::query(sql)
                    .bind(member)
                    .bind(format!("bench{s}@example.jp"))
                    .bind(shop_id(s))
                    .bind(format!("工房{s}"))
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
        for (c, chunk) in $rows.chunks(500).enumerate() {
            let mut sql = INSERT.to_owned();
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let b = i * 7;
                    format!("(${}, ${}, ${}, '作家が一点ずつ手作りしています。', ${}, 3, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 7)
                })
                .collect();
            sql.push_str(&values.join(", "));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (i, r) in chunk.iter().enumerate() {
                q = q
                    .bind(r.id)
                    .bind(shop_id((c * 500 + i) % SHOPS))
                    .bind(r.title.as_str())
                    .bind(r.price)
                    .bind(r.status)
                    .bind(r.search.as_str())
                    .bind(r.created);
            }
            q.execute(pool).await.unwrap();
        }
    }};
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| !a.starts_with('-')).collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let runs: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(60);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rows = catalog(n);
    println!(
        "catalog: {n} items in {SHOPS} shops, e.g. {:?}, {:?}",
        rows[0].title, rows[1].title
    );
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let lite = SqliteStore::open_file(&dir.path().join("bench.db"))
            .await
            .unwrap();
        lite.migrate().await.unwrap();
        let t = Instant::now();
        load!(lite.pool(), rows);
        println!("SQLite: loaded in {:.1} s", t.elapsed().as_secs_f64());
        let on_sqlite = run("SQLite (FTS5 trigram)", &lite, runs).await;
        lite.close().await;

        let db = ScratchDatabase::migrated().await.unwrap();
        let pg = PostgresStore::connect_lazy(db.url(), 4).unwrap();
        let t = Instant::now();
        load!(pg.pool(), rows);
        // What autovacuum's ANALYZE gives a live database.
        sqlx::query("ANALYZE").execute(pg.pool()).await.unwrap();
        if std::env::var("BENCH_EXPLAIN").is_ok() {
            use anshin_store::sql::shops::{Dialect, Param, SqlitePlan, search_statement};
            for (label, req) in queries() {
                let parsed = req.parse(None).unwrap();
                let (sql, params) =
                    search_statement(Dialect::Postgres, SqlitePlan::Scan, &parsed.query);
                let mut q = sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(format!(
                    "EXPLAIN (ANALYZE) {sql}"
                )))
                .persistent(false);
                for p in params {
                    q = match p {
                        Param::Text(t) => q.bind(t),
                        Param::Int(n) => q.bind(n),
                        Param::Id(id) => q.bind(id),
                    };
                }
                println!("-- {label}");
                for (line,) in q.fetch_all(pg.pool()).await.unwrap() {
                    if line.contains("Scan") || line.contains("Execution") || line.contains("Sort ")
                    {
                        println!("   {line}");
                    }
                }
            }
        }
        println!("PostgreSQL: loaded in {:.1} s", t.elapsed().as_secs_f64());
        let on_postgres = run("PostgreSQL (pg_trgm GIN)", &pg, runs).await;
        assert_eq!(
            on_sqlite, on_postgres,
            "both databases find the same items in the same order"
        );
        println!(
            "\nsame results on both databases: yes ({} queries)",
            on_sqlite.len()
        );
        pg.close().await;
        drop(db);
    });
}
