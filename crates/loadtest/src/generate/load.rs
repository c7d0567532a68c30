//! The bulk load: producer threads turn units of work into rows (the CPU-bound part), one
//! `COPY … FROM STDIN` per table streams them into PostgreSQL on a connection of its own, so
//! the tables fill in parallel. A stream commits only if every producer and stream succeeded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tokio::sync::mpsc;

use super::plan::Plan;
use super::rows::{Table, build};

/// Batches waiting per table: bounds memory when PostgreSQL is slower than the producers.
const QUEUED_BATCHES: usize = 16;

/// The most COPY text one statement carries. The per-organization counts are kept by statement
/// triggers over a transition table (migration m0009), which holds every row the statement
/// inserted: bounded so, it stays in memory (`work_mem` below) instead of spilling gigabytes to
/// temporary files.
const BYTES_PER_STATEMENT: usize = 32 << 20;

/// `work_mem` of the streams' sessions: room for one statement's transition table.
const STREAM_WORK_MEM: &str = "128MB";

/// Rows written per table, in the order of [`Table::ALL`].
pub type RowCounts = [u64; 7];

/// Loads every row of `plan` with `threads` producers; returns the rows written per table.
pub async fn load(url: &str, plan: Arc<Plan>, threads: usize) -> anyhow::Result<RowCounts> {
    let failed = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    let mut streams = Vec::new();
    for table in Table::ALL {
        let (tx, rx) = mpsc::channel::<Vec<u8>>(QUEUED_BATCHES);
        senders.push(tx);
        streams.push(tokio::spawn(copy_stream(
            url.to_owned(),
            table,
            rx,
            failed.clone(),
        )));
    }
    let next = Arc::new(AtomicUsize::new(0));
    let users_done = Arc::new(AtomicU64::new(0));
    let mut producers = Vec::new();
    for _ in 0..threads.max(1) {
        let (plan, next, senders) = (plan.clone(), next.clone(), senders.clone());
        let (users_done, failed) = (users_done.clone(), failed.clone());
        producers.push(tokio::task::spawn_blocking(move || {
            let result = produce(&plan, &next, &senders, &users_done, &failed);
            if result.is_err() {
                failed.store(true, Ordering::SeqCst);
            }
            result
        }));
    }
    // The streams end when the last producer drops its senders.
    drop(senders);
    let progress = tokio::spawn(report_progress(users_done.clone(), plan.total_users));
    let mut first_error = None;
    for producer in producers {
        if let Err(e) = producer.await.context("a producer panicked")? {
            first_error.get_or_insert(e);
        }
    }
    let mut counts = [0; 7];
    for (i, stream) in streams.into_iter().enumerate() {
        match stream.await.context("a COPY stream panicked")? {
            Ok(rows) => counts[i] = rows,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    progress.abort();
    match first_error {
        Some(e) => Err(e),
        None => Ok(counts),
    }
}

/// Takes units of work until there are none left (or something failed), sending each table's
/// rows to its stream.
fn produce(
    plan: &Plan,
    next: &AtomicUsize,
    senders: &[mpsc::Sender<Vec<u8>>],
    users_done: &AtomicU64,
    failed: &AtomicBool,
) -> anyhow::Result<()> {
    loop {
        if failed.load(Ordering::SeqCst) {
            return Ok(());
        }
        let Some(&work) = plan.work.get(next.fetch_add(1, Ordering::Relaxed)) else {
            return Ok(());
        };
        let batch = build(plan, work).with_context(|| format!("generating {work:?}"))?;
        for (rows, (sender, table)) in batch.tables.into_iter().zip(senders.iter().zip(Table::ALL))
        {
            if rows.is_empty() {
                continue;
            }
            if sender.blocking_send(rows.into_bytes()).is_err() {
                bail!("the COPY stream of {} stopped", table.name());
            }
        }
        users_done.fetch_add(batch.users, Ordering::Relaxed);
    }
}

/// One table's rows, in `COPY` statements of at most [`BYTES_PER_STATEMENT`] in one
/// transaction; tables that start empty are truncated in it first, which lets `COPY … FREEZE`
/// write their rows already frozen and all-visible. Rolled back (the connection dropped) when
/// anything failed anywhere.
async fn copy_stream(
    url: String,
    table: Table,
    mut batches: mpsc::Receiver<Vec<u8>>,
    failed: Arc<AtomicBool>,
) -> anyhow::Result<u64> {
    let name = table.name();
    let result = async {
        let mut conn = PgConnection::connect(&url).await?;
        sqlx::raw_sql(AssertSqlSafe(format!("SET work_mem = '{STREAM_WORK_MEM}'")))
            .execute(&mut conn)
            .await?;
        let mut txn = conn.begin().await?;
        let freeze = if table.starts_empty() {
            sqlx::raw_sql(AssertSqlSafe(format!("TRUNCATE {name}")))
                .execute(&mut *txn)
                .await?;
            " WITH (FREEZE)"
        } else {
            ""
        };
        let statement = format!("COPY {name} ({}) FROM STDIN{freeze}", table.columns());
        let mut rows = 0;
        let mut next = batches.recv().await;
        while next.is_some() && !failed.load(Ordering::SeqCst) {
            let mut copy = txn.copy_in_raw(&statement).await?;
            let mut sent = 0;
            while let Some(batch) = next.take_if(|_| sent < BYTES_PER_STATEMENT) {
                sent += batch.len();
                copy.send(batch).await?;
                next = batches.recv().await;
            }
            rows += copy.finish().await?;
        }
        if failed.load(Ordering::SeqCst) {
            bail!("abandoned after another failure");
        }
        txn.commit().await?;
        anyhow::Ok(rows)
    }
    .await;
    if result.is_err() {
        failed.store(true, Ordering::SeqCst);
        // Nothing more will be read: unblock the producers.
        batches.close();
    }
    result.with_context(|| format!("loading {name}"))
}

/// A line on stderr every 10 seconds: users generated and the rate since the start.
async fn report_progress(users_done: Arc<AtomicU64>, total: u64) {
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    tick.tick().await;
    loop {
        tick.tick().await;
        let done = users_done.load(Ordering::Relaxed);
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "  {done} of {total} users ({:.0}/s, {secs:.0} s)",
            done as f64 / secs
        );
    }
}
