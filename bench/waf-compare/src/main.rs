//! Side-by-side benchmark: anshin-waf and libmodsecurity 3 (Debian's 3.0.9,
//! through the `modsecurity-sys` 0.1.2 FFI) load the same rules (CRS 3.3.4
//! at paranoia level 1 plus the same base configuration) and inspect the
//! same requests. Reports per-request inspection cost (thread CPU time and
//! wall time: median, p99) and resident memory, each engine measured in its
//! own child process so their memory does not mix. The comparison runs in
//! rounds that alternate which engine goes first; the table gives the
//! median over rounds.
//!
//! ```sh
//! cargo run --release -- [ITERATIONS] [ROUNDS] # both engines, a table
//! cargo run --release -- --engine anshin 2000  # one engine, raw lines
//! cargo run --release -- --profile anshin SQLi 20  # one case, for callgrind
//! ```
//!
//! Rule paths: `ANSHIN_WAF_CRS_RULES`, `ANSHIN_WAF_CRS_SETUP`.

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_void};
use std::time::{Duration, Instant};

use anshin_waf::{LoadOptions, RECOMMENDED_BASE_RULES, Request, RuleSet};

struct Case {
    name: &'static str,
    req: Request,
}

fn crs_paths() -> (String, String) {
    let rules = std::env::var("ANSHIN_WAF_CRS_RULES")
        .unwrap_or_else(|_| "/usr/share/modsecurity-crs/rules".into());
    let setup = std::env::var("ANSHIN_WAF_CRS_SETUP")
        .unwrap_or_else(|_| "/etc/modsecurity/crs/crs-setup.conf".into());
    (setup, rules)
}

/// Both engines get exactly this before the CRS files.
fn base_config() -> String {
    format!("SecRuleEngine On\n{RECOMMENDED_BASE_RULES}\n")
}

fn rule_files(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("CRS rules dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path().display().to_string())
        .filter(|p| p.ends_with(".conf"))
        .collect();
    v.sort();
    v
}

fn headers(extra: &[(&str, String)]) -> Vec<(String, Vec<u8>)> {
    let mut h: Vec<(String, Vec<u8>)> = vec![
        ("Host".into(), b"shop.example.jp".to_vec()),
        (
            "User-Agent".into(),
            b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".to_vec(),
        ),
        (
            "Accept".into(),
            b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8".to_vec(),
        ),
        (
            "Accept-Language".into(),
            b"ja,en-US;q=0.7,en;q=0.3".to_vec(),
        ),
        ("Accept-Encoding".into(), b"gzip, deflate, br".to_vec()),
        (
            "Cookie".into(),
            b"__Host-anshin_session=8f2a9c0d4b6e1f3a5c7e9b1d3f5a7c9e".to_vec(),
        ),
    ];
    for (k, v) in extra {
        h.push(((*k).to_owned(), v.clone().into_bytes()));
    }
    h
}

fn request(method: &str, uri: &str, extra: &[(&str, String)], body: Vec<u8>) -> Request {
    let mut extra = extra.to_vec();
    if !body.is_empty() {
        extra.push(("Content-Length", body.len().to_string()));
    }
    Request {
        method: method.into(),
        uri: uri.into(),
        protocol: "HTTP/1.1".into(),
        headers: headers(&extra),
        remote_addr: "198.51.100.20".into(),
        body,
    }
}

fn cases() -> Vec<Case> {
    let form_ct = (
        "Content-Type",
        "application/x-www-form-urlencoded".to_owned(),
    );
    let mut form = String::from("csrf_token=3q2-7w_Xk9&title=Handmade+ceramic+mug");
    let mut i = 0;
    while form.len() < 1000 {
        form.push_str(&format!(
            "&note{i}=The+mug+arrived+safely%2C+thank+you+so+much%21+%E3%81%82%E3%82%8A%E3%81%8C%E3%81%A8%E3%81%86"
        ));
        i += 1;
    }
    let mut json = String::from(
        r#"{"title":"Handmade ceramic mug","price":1980,"tags":["pottery","kitchen"],"notes":["#,
    );
    while json.len() < 1000 {
        json.push_str(r#""Ships within 3-5 business days, gift wrapping available.","#);
    }
    json.push_str(r#""end"]}"#);
    let boundary = "----anshinbench7MA4YWxkTrZu0gW";
    let mut multipart = Vec::new();
    multipart.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nPhoto of the mug\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"mug.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes(),
    );
    // 64 KiB of deterministic pseudo-random bytes (an image stand-in).
    let mut x: u32 = 0x1234_5678;
    for _ in 0..64 * 1024 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        multipart.push((x & 0xff) as u8);
    }
    multipart.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    vec![
        Case {
            name: "benign GET",
            req: request(
                "GET",
                "/shop/items?page=2&sort=price&q=mug",
                &[],
                Vec::new(),
            ),
        },
        Case {
            name: "1 KB form POST",
            req: request(
                "POST",
                "/shop/items/new",
                &[form_ct.clone()],
                form.into_bytes(),
            ),
        },
        Case {
            name: "1 KB JSON POST",
            req: request(
                "POST",
                "/api/v1/items",
                &[("Content-Type", "application/json".to_owned())],
                json.into_bytes(),
            ),
        },
        Case {
            name: "64 KB multipart upload",
            req: request(
                "POST",
                "/shop/items/photos",
                &[(
                    "Content-Type",
                    format!("multipart/form-data; boundary={boundary}"),
                )],
                multipart,
            ),
        },
        Case {
            name: "SQLi GET",
            req: request(
                "GET",
                "/search?q=1%27+OR+%271%27%3D%271%27--&page=1",
                &[],
                Vec::new(),
            ),
        },
        Case {
            name: "XSS POST",
            req: request(
                "POST",
                "/shop/items/new",
                &[form_ct],
                b"title=mug&description=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E".to_vec(),
            ),
        },
    ]
}

/// Resident memory (VmRSS) and its peak (VmHWM), KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

trait Engine {
    /// Inspects one request; true when it would be blocked.
    fn inspect(&self, req: &Request) -> bool;
}

struct Anshin(RuleSet);

impl Engine for Anshin {
    fn inspect(&self, req: &Request) -> bool {
        // The layer builds an owned Request per HTTP request: count that too.
        let owned = req.clone();
        self.0.evaluate(&owned).disruptive.is_some()
    }
}

fn load_anshin() -> Anshin {
    let (setup, rules) = crs_paths();
    let mut paths = vec![setup];
    paths.extend(rule_files(&rules));
    let rs = RuleSet::load(
        &paths,
        &LoadOptions {
            directives_before: vec![base_config()],
            ..LoadOptions::default()
        },
    )
    .expect("anshin-waf loads the CRS");
    // As the server does after loading: patterns compile on first use, so
    // compile what ordinary requests reach now. Counted in the loading time
    // and in the memory after loading.
    rs.warm_up();
    Anshin(rs)
}

/// libmodsecurity through the raw FFI. Every `unsafe` block below calls the
/// C API as its headers document (pointers we own, NUL-terminated strings
/// that outlive the call, transactions cleaned up exactly once).
struct ModSec {
    msc: *mut modsecurity_sys::ModSecurity,
    rules: *mut modsecurity_sys::RulesSet,
}

extern "C" fn discard_log(_data: *mut c_void, _msg: *const c_void) {}

fn check(ret: i32, error: *const c_char, what: &str) {
    if ret < 0 {
        let msg = if error.is_null() {
            String::new()
        } else {
            // SAFETY: libmodsecurity sets `error` to a NUL-terminated string.
            unsafe { CStr::from_ptr(error) }
                .to_string_lossy()
                .into_owned()
        };
        panic!("libmodsecurity: {what}: {msg}");
    }
}

fn load_modsec() -> ModSec {
    let (setup, rules_dir) = crs_paths();
    // SAFETY: plain constructor calls; the pointers are checked below.
    let (msc, rules) = unsafe {
        (
            modsecurity_sys::msc_init(),
            modsecurity_sys::msc_create_rules_set(),
        )
    };
    assert!(!msc.is_null() && !rules.is_null());
    let connector = CString::new("anshin waf-compare").unwrap();
    // SAFETY: msc is valid; the string outlives the call (it is copied).
    unsafe {
        modsecurity_sys::msc_set_connector_info(msc, connector.as_ptr());
        modsecurity_sys::msc_set_log_cb(msc, Some(discard_log));
    }
    let mut error: *const c_char = std::ptr::null();
    let base = CString::new(base_config()).unwrap();
    // SAFETY: rules is valid, base is NUL-terminated, error is an out-pointer.
    let ret = unsafe { modsecurity_sys::msc_rules_add(rules, base.as_ptr(), &mut error) };
    check(ret, error, "base config");
    let mut files = vec![setup];
    files.extend(rule_files(&rules_dir));
    for f in files {
        let c = CString::new(f.clone()).unwrap();
        // SAFETY: as above.
        let ret = unsafe { modsecurity_sys::msc_rules_add_file(rules, c.as_ptr(), &mut error) };
        check(ret, error, &f);
    }
    ModSec { msc, rules }
}

impl ModSec {
    fn intervened(&self, t: *mut modsecurity_sys::Transaction) -> bool {
        let mut it = modsecurity_sys::ModSecurityIntervention {
            status: 200,
            pause: 0,
            url: std::ptr::null_mut(),
            log: std::ptr::null_mut(),
            disruptive: 0,
        };
        // SAFETY: t is a live transaction; `it` is ours. The strings it may
        // receive are malloc'ed by the library and ours to free.
        unsafe {
            let r = modsecurity_sys::msc_intervention(t, &mut it);
            if !it.log.is_null() {
                libc_free(it.log as *mut c_void);
            }
            if !it.url.is_null() {
                libc_free(it.url as *mut c_void);
            }
            r != 0 && it.disruptive != 0
        }
    }
}

unsafe extern "C" {
    #[link_name = "free"]
    fn libc_free(p: *mut c_void);
}

impl Engine for ModSec {
    fn inspect(&self, req: &Request) -> bool {
        let client = CString::new(req.remote_addr.as_str()).unwrap();
        let server = CString::new("127.0.0.1").unwrap();
        let uri = CString::new(req.uri.as_str()).unwrap();
        let method = CString::new(req.method.as_str()).unwrap();
        let version = CString::new(req.protocol.trim_start_matches("HTTP/")).unwrap();
        // SAFETY: the transaction is created, used and cleaned up here;
        // every pointer passed points into live Rust buffers of the stated
        // length, or NUL-terminated CStrings.
        unsafe {
            let t =
                modsecurity_sys::msc_new_transaction(self.msc, self.rules, std::ptr::null_mut());
            modsecurity_sys::msc_process_connection(
                t,
                client.as_ptr(),
                50000,
                server.as_ptr(),
                443,
            );
            modsecurity_sys::msc_process_uri(t, uri.as_ptr(), method.as_ptr(), version.as_ptr());
            let mut blocked = self.intervened(t);
            if !blocked {
                for (k, v) in &req.headers {
                    modsecurity_sys::msc_add_n_request_header(
                        t,
                        k.as_ptr(),
                        k.len(),
                        v.as_ptr(),
                        v.len(),
                    );
                }
                modsecurity_sys::msc_process_request_headers(t);
                blocked = self.intervened(t);
            }
            if !blocked {
                if !req.body.is_empty() {
                    modsecurity_sys::msc_append_request_body(t, req.body.as_ptr(), req.body.len());
                }
                modsecurity_sys::msc_process_request_body(t);
                blocked = self.intervened(t);
            }
            modsecurity_sys::msc_transaction_cleanup(t);
            blocked
        }
    }
}

/// CPU time of the calling thread: unlike wall time, it leaves out the
/// time slices other processes get on a shared machine.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a
    // constant the kernel knows. On failure `ts` stays zero.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

fn run(engine_name: &str, iterations: usize) {
    let (rss0, _) = memory_kib();
    let t = Instant::now();
    let engine: Box<dyn Engine> = match engine_name {
        "anshin" => Box::new(load_anshin()),
        "modsec" => Box::new(load_modsec()),
        other => panic!("unknown engine {other}"),
    };
    let load = t.elapsed();
    let (rss_loaded, _) = memory_kib();
    println!(
        "load\t{engine_name}\t{}\t{}\t{}",
        load.as_micros(),
        rss0,
        rss_loaded
    );
    for case in cases() {
        // The first inspection of a request type also pays one-time work
        // (anshin-waf compiles a pattern the first time a request needs it).
        let t = Instant::now();
        let blocked = engine.inspect(&case.req);
        println!(
            "first\t{engine_name}\t{}\t{}",
            case.name,
            t.elapsed().as_nanos()
        );
        // Warm-up.
        for _ in 0..iterations.min(50) {
            std::hint::black_box(engine.inspect(&case.req));
        }
        let mut times: Vec<Duration> = Vec::with_capacity(iterations);
        let mut cpu: Vec<Duration> = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let c = thread_cpu_time();
            let t = Instant::now();
            std::hint::black_box(engine.inspect(std::hint::black_box(&case.req)));
            times.push(t.elapsed());
            cpu.push(thread_cpu_time().saturating_sub(c));
        }
        times.sort();
        cpu.sort();
        let median = times[times.len() / 2];
        let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
        println!(
            "case\t{engine_name}\t{}\t{}\t{}\t{}\t{}",
            case.name,
            median.as_nanos(),
            p99.as_nanos(),
            blocked,
            cpu[cpu.len() / 2].as_nanos(),
        );
    }
    let (rss_end, hwm) = memory_kib();
    println!("mem\t{engine_name}\t{rss_end}\t{hwm}");
}

/// The loop that `--profile` runs: kept out of line so that callgrind can
/// count only it (`--collect-atstart=no --toggle-collect='*profiled_loop*'`).
#[inline(never)]
fn profiled_loop(engine: &dyn Engine, req: &Request, n: usize) -> usize {
    let mut blocked = 0;
    for _ in 0..n {
        blocked += usize::from(engine.inspect(std::hint::black_box(req)));
    }
    blocked
}

/// `--profile ENGINE CASE N`: load one engine, inspect one request type N
/// times, nothing else (for valgrind/callgrind instruction counts, which are
/// repeatable on a noisy machine where wall times are not). CASE is a prefix
/// of a case name (`benign`, `1 KB form`, `1 KB JSON`, `64`, `SQLi`, `XSS`).
fn profile(engine_name: &str, case: &str, n: usize) {
    let engine: Box<dyn Engine> = match engine_name {
        "anshin" => Box::new(load_anshin()),
        "modsec" => Box::new(load_modsec()),
        other => panic!("unknown engine {other}"),
    };
    let c = cases()
        .into_iter()
        .find(|c| c.name.starts_with(case))
        .expect("known case");
    // One untimed run first, so one-time work (lazy caches) is not counted.
    engine.inspect(&c.req);
    let blocked = profiled_loop(engine.as_ref(), &c.req, n);
    println!("{engine_name}\t{}\t{n}\tblocked {blocked}", c.name);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--profile") {
        let engine = args.get(2).expect("engine name");
        let case = args.get(3).expect("case name prefix");
        let n = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(10);
        profile(engine, case, n);
        return;
    }
    if args.get(1).map(String::as_str) == Some("--engine") {
        let engine = args.get(2).expect("engine name");
        let n = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1000);
        run(engine, n);
        return;
    }
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5).max(1);
    let exe = std::env::current_exe().expect("own path");
    // Rounds alternate which engine goes first, so a change in the
    // machine's load during the run does not favour either.
    let mut outs: Vec<std::collections::HashMap<&str, String>> = Vec::new();
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            ["modsec", "anshin"]
        } else {
            ["anshin", "modsec"]
        };
        let mut out = std::collections::HashMap::new();
        for engine in order {
            let o = std::process::Command::new(&exe)
                .args(["--engine", engine, &n.to_string()])
                .output()
                .expect("child runs");
            assert!(
                o.status.success(),
                "{engine}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            out.insert(engine, String::from_utf8_lossy(&o.stdout).into_owned());
        }
        outs.push(out);
    }
    let lines = |out: &std::collections::HashMap<&str, String>, e: &str, kind: &str| {
        out[e]
            .lines()
            .filter(|l| l.starts_with(kind))
            .map(|l| l.split('\t').map(str::to_owned).collect::<Vec<String>>())
            .collect::<Vec<Vec<String>>>()
    };
    let us = |ns: &str| ns.parse::<f64>().unwrap_or(0.0) / 1000.0;
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    println!(
        "{n} iterations per case and engine, {rounds} rounds (engine order alternating); \
         µs per request (inspection only), median over rounds of each round's median\n"
    );
    println!(
        "| request | libmodsecurity CPU | anshin-waf CPU | CPU ratio (range over rounds) | libmodsecurity wall | p99 | anshin-waf wall | p99 | wall ratio | verdicts (modsec / anshin) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let ncases = lines(&outs[0], "modsec", "case").len();
    for c in 0..ncases {
        let col = |e: &str, i: usize| -> Vec<f64> {
            outs.iter()
                .map(|o| us(&lines(o, e, "case")[c][i]))
                .collect()
        };
        let (m_cpu, a_cpu) = (col("modsec", 6), col("anshin", 6));
        let (m_wall, a_wall) = (col("modsec", 3), col("anshin", 3));
        let cpu_ratios: Vec<f64> = a_cpu.iter().zip(&m_cpu).map(|(a, m)| a / m).collect();
        let wall_ratios: Vec<f64> = a_wall.iter().zip(&m_wall).map(|(a, m)| a / m).collect();
        let lo = cpu_ratios.iter().copied().fold(f64::MAX, f64::min);
        let hi = cpu_ratios.iter().copied().fold(0.0, f64::max);
        let m = &lines(&outs[0], "modsec", "case")[c];
        let a = &lines(&outs[0], "anshin", "case")[c];
        println!(
            "| {} | {:.1} | {:.1} | {:.3} ({:.3}–{:.3}) | {:.1} | {:.1} | {:.1} | {:.1} | {:.3} | {} / {} |",
            m[2],
            median(m_cpu),
            median(a_cpu),
            median(cpu_ratios),
            lo,
            hi,
            median(m_wall),
            median(col("modsec", 4)),
            median(a_wall),
            median(col("anshin", 4)),
            median(wall_ratios),
            if m[5] == "true" { "block" } else { "pass" },
            if a[5] == "true" { "block" } else { "pass" },
        );
    }
    println!(
        "\n| first inspection of each request type (µs, first round) | libmodsecurity | anshin-waf |\n|---|---:|---:|"
    );
    for (m, a) in lines(&outs[0], "modsec", "first")
        .iter()
        .zip(lines(&outs[0], "anshin", "first"))
    {
        println!("| {} | {:.0} | {:.0} |", m[2], us(&m[3]), us(&a[3]));
    }
    println!("\n| memory (KiB, first round) | libmodsecurity | anshin-waf |\n|---|---:|---:|");
    let o = &outs[0];
    let (ml, al) = (
        &lines(o, "modsec", "load")[0],
        &lines(o, "anshin", "load")[0],
    );
    let (mm, am) = (&lines(o, "modsec", "mem")[0], &lines(o, "anshin", "mem")[0]);
    println!("| RSS before loading | {} | {} |", ml[3], al[3]);
    println!("| RSS after loading the rules | {} | {} |", ml[4], al[4]);
    println!("| RSS after all request types | {} | {} |", mm[2], am[2]);
    println!("| peak RSS (VmHWM) | {} | {} |", mm[3], am[3]);
    println!(
        "| rule loading time (ms) | {:.0} | {:.0} |",
        us(&ml[2]),
        us(&al[2])
    );
}
