//! Background work on the one job runner, through the real server: the
//! session purge runs on one instance at a time (a sibling on the same
//! database finds the lease's record and skips), and every instance
//! reports its jobs on `/metrics` (C29: the operators see what runs).

use anshin_testkit::{Backend, TestApp, backends};

backends!(c29_one_instance_purges_and_every_instance_reports_its_jobs_on_metrics);

/// The value of a labelled sample, e.g. `anshin_job_runs_total{job="x"}`.
async fn sample(app: &TestApp, name: &str, job: &str) -> Option<u64> {
    let text = anshin_testkit::reqwest::get(app.ops_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("{name}{{job=\"{job}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse::<f64>().unwrap() as u64)
}

async fn wait_for_sample(app: &TestApp, name: &str, job: &str) -> u64 {
    for _ in 0..200 {
        if let Some(v) = sample(app, name, job).await.filter(|v| *v > 0) {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!(
        "{name}{{job=\"{job}\"}} never above 0 on {}",
        app.ops_url("/metrics")
    );
}

async fn c29_one_instance_purges_and_every_instance_reports_its_jobs_on_metrics(b: Backend) {
    let a = TestApp::spawn(b).await;
    // The first instance runs the purge at start and records it.
    assert_eq!(
        wait_for_sample(&a, "anshin_job_runs_total", "sessions.purge").await,
        1
    );
    assert!(
        sample(
            &a,
            "anshin_job_last_success_timestamp_seconds",
            "sessions.purge"
        )
        .await
        .is_some()
    );
    let row = a
        .store
        .jobs()
        .find("sessions.purge")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.holder.as_deref(), Some(a.instance.as_str()));
    assert_eq!((row.runs, row.failures), (1, 0));
    // A second instance on the same database: the job is not due again,
    // so it does not run there; it counts the skip.
    let b2 = a.sibling().await;
    assert_ne!(a.instance, b2.instance);
    assert_eq!(
        wait_for_sample(&b2, "anshin_job_skipped_total", "sessions.purge").await,
        1
    );
    assert_eq!(
        sample(&b2, "anshin_job_runs_total", "sessions.purge").await,
        Some(0)
    );
    let row = a
        .store
        .jobs()
        .find("sessions.purge")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.runs, 1, "the purge ran twice: {row:?}");
    // Jobs of every instance run everywhere and are reported.
    for app in [&a, &b2] {
        wait_for_sample(app, "anshin_job_runs_total", "mail.deliver").await;
        wait_for_sample(app, "anshin_job_runs_total", "limits.attack_level").await;
        assert_eq!(
            sample(app, "anshin_job_failures_total", "mail.deliver").await,
            Some(0)
        );
    }
    b2.stop().await;
    a.stop().await;
}
