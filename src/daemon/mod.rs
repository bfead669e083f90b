//! The daemon: opens the store, starts every stage of the data path and the socket, and
//! stops them in order on SIGTERM or Ctrl-C.

pub mod backend;
mod embedded;
mod logging;
pub mod private;

use crate::api::server::Server;
use crate::calendar::Calendar;
use crate::cluster::LeaseKeeper;
use crate::config::Config;
use crate::message::now_ms;
use crate::otp::OtpService;
use crate::receipts::ReceiptStage;
use crate::requests::{RequestRegistry, WindowCloser};
use crate::router::Router;
use crate::scheduler::{Scheduler, run_deadline_watcher, run_housekeeping};
use crate::sending::{Dispatcher, RecipientLimits, run_outcomes};
use crate::sessions::{Endpoint, SessionPool};
use crate::store::{Store, StoreEngine};
use crate::templates::Templates;
use backend::{BackendParts, GatewayBackend};
use sd_notify::NotifyState;
use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

/// Any error that stops the daemon, with a sentence for the operator.
pub type DaemonError = Box<dyn Error + Send + Sync>;

/// Runs the gateway until SIGTERM/ctrl-c, with the config file at `config_path`.
pub async fn run(config_path: &Path) -> Result<(), DaemonError> {
    let config = Config::load(config_path)?;
    // an unknown zone fails at start when the calendar is built, with its own error
    let zone = config
        .calendar
        .time_zone
        .parse()
        .unwrap_or(chrono_tz::Asia::Almaty);
    logging::init(config.log_format, zone);
    let stop = CancellationToken::new();
    let signals = stop.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping: finishing what is in flight");
        signals.cancel();
    });
    run_with(config, stop).await
}

/// Runs the gateway with a loaded config until `stop` is cancelled (tests call this).
pub async fn run_with(config: Config, stop: CancellationToken) -> Result<(), DaemonError> {
    let started_at = now_ms();
    private::private_umask();
    // the store's directory is walked with the data directory when it lies inside it
    let store_apart = !config.store.path.starts_with(&config.data_dir);
    let private_dirs =
        std::iter::once(&config.data_dir).chain(store_apart.then_some(&config.store.path));
    for dir in private_dirs {
        let narrowed = private::secure_dir(dir)
            .map_err(|e| format!("cannot make {} private: {e}", dir.display()))?;
        if narrowed > 0 {
            tracing::warn!(
                dir = %dir.display(),
                narrowed,
                "files and directories other users could read were narrowed to 0700 / 0600"
            );
        }
    }
    let calendar = Arc::new(Calendar::new(&config.calendar)?);
    if let Some(warning) = calendar.coverage(now_ms()).warning {
        tracing::warn!("{warning}");
    }
    // before the store, which would wait (10 s) for the running daemon's lock
    crate::api::server::refuse_if_running(&config.api.socket_path)?;
    let store = match config.store.engine {
        StoreEngine::Sled => {
            let store_config = config.store.clone();
            let store = tokio::task::spawn_blocking(move || Store::open(&store_config)).await??;
            tracing::info!(path = %config.store.path.display(), queued = store.counts().queued.iter().sum::<u64>(), "store open");
            store
        }
        StoreEngine::Postgres => {
            let pg = &config.store.postgres;
            let store = Store::open_cluster(pg, &pg.node, &config.store).await?;
            tracing::info!(
                database = %pg.database, host = %pg.host, node = %pg.node,
                queued = store.counts().queued.iter().sum::<u64>(),
                "cluster store open"
            );
            store
        }
    };
    // before anything is sent: the messages the embedded simulator may owe receipts for
    let awaiting_receipts = store.counts().in_state(crate::message::State::Submitted);

    let templates = Arc::new(Templates::new(&config.templates)?);
    let router = Arc::new(Router::new(&config.routes)?);
    let scheduler = Arc::new(
        Scheduler::new(store.clone(), config.scheduler.clone()).with_calendar(calendar.clone()),
    );

    let simulator = embedded::start_if_needed(&config).await?;
    // in cluster mode each operator's binds wait for this node to hold its lease
    let (lease_keeper, mut gates) = match config.store.engine {
        StoreEngine::Sled => (None, Default::default()),
        StoreEngine::Postgres => {
            let names: Vec<String> = config.operators.iter().map(|o| o.name.clone()).collect();
            let (keeper, gates) = LeaseKeeper::new(store.clone(), &config.cluster, &names)?;
            (Some(keeper), gates)
        }
    };
    let urgent_run = config.scheduler.min_share.urgent_run();
    let endpoints = config
        .operators
        .iter()
        .map(|op| {
            let mut ep = embedded::endpoint(op, simulator.as_ref())?;
            ep.config.urgent_run = urgent_run;
            ep.lease = gates.remove(&op.name);
            Ok(ep)
        })
        .collect::<Result<Vec<Endpoint>, String>>()?;
    let (outcomes_tx, outcomes_rx) = mpsc::channel(4096);
    let (incoming_tx, incoming_rx) = mpsc::channel(4096);
    let pool = SessionPool::start(endpoints, outcomes_tx, incoming_tx)?;
    let operators: std::collections::BTreeMap<_, _> = pool
        .operators()
        .map(|(name, handle)| (name.clone(), handle.clone()))
        .collect();

    let otp = open_otp(&config, &store).await?;
    let data_dir = config.data_dir.clone();
    let requests = tokio::task::spawn_blocking(move || RequestRegistry::open(&data_dir))
        .await?
        .map_err(|e| format!("cannot open the requests registry: {e}"))?;
    let requests = Arc::new(requests);
    let wake = Arc::new(Notify::new());
    let health: Vec<_> = operators.values().map(|o| o.health.clone()).collect();
    let backend = Arc::new(GatewayBackend::new(BackendParts {
        scheduler: scheduler.clone(),
        router: router.clone(),
        templates: templates.clone(),
        calendar,
        encoding: config.encoding,
        max_queue_depth: config.api.max_queue_depth,
        operators: Arc::new(move || health.iter().map(|h| h.snapshot()).collect()),
        otp: Some(otp.clone()),
        otp_config: config.otp.clone(),
        otp_language: crate::api::protocol::Language::Kk,
        wake: wake.clone(),
        started_at,
        lease_ttl: config.cluster.lease_ttl,
    }));

    let stages = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    // stopped after the binds (they unbind first), then the leases are given up
    let leases = CancellationToken::new();
    let keeping = lease_keeper.map(|keeper| tokio::spawn(keeper.run(leases.clone())));
    let dispatcher = Dispatcher {
        scheduler: scheduler.clone(),
        router,
        operators,
        encoding: config.encoding,
        limits: RecipientLimits::new(&config.sending),
        wake: wake.clone(),
        idle_poll: config.sending.idle_poll,
        batch: config.sending.claim_batch,
        otp: Some(otp.clone()),
        accepted_otps: scheduler.store().take_otps_at_accept(),
        concat_refs: Default::default(),
    };
    let dispatching = tokio::spawn(dispatcher.run(stages.clone()));
    let latencies = crate::metrics::Latencies::default();
    let outcomes = tokio::spawn(run_outcomes(
        scheduler.clone(),
        Some(requests.clone()),
        outcomes_rx,
        latencies.clone(),
    ));
    let hold = config.sending.early_receipt_hold;
    let receipts = tokio::spawn(
        ReceiptStage::new(store.clone(), hold, latencies.clone())
            .with_requests(requests.clone())
            .run(incoming_rx),
    );
    let tick = config.scheduler.watcher_tick;
    tasks.spawn(run_deadline_watcher(store.clone(), tick, stages.clone()));
    let closer = WindowCloser {
        registry: requests,
        scheduler: scheduler.clone(),
        templates,
        language: crate::templates::Language::Kk,
        wake: Some(wake),
        tick,
    };
    tasks.spawn(closer.run(stages.clone()));
    let every = config.scheduler.housekeeping_every;
    tasks.spawn(run_housekeeping(store.clone(), every, stages.clone()));

    tasks.spawn(prune_otp_sessions(otp, stages.clone()));
    let log_summaries = tokio::spawn(crate::log_gate::run_flusher());
    if let Some(addr) = config.metrics.listen {
        let listener = crate::metrics::bind(addr).await?;
        tracing::info!(%addr, "metrics at http://{addr}/metrics");
        let serving = crate::metrics::serve(
            listener,
            backend.clone(),
            store.clone(),
            latencies,
            stages.clone(),
        );
        tasks.spawn(serving);
    }

    let server = Server::bind(&config.api.socket_path, config.api.server.clone())?;
    // once nothing can fail the start any more (the saved file is deleted here)
    if let Some(sim) = &simulator {
        sim.restore_owed(&config, awaiting_receipts);
    }
    tracing::info!(socket = %config.api.socket_path.display(), operators = config.operators.len(), "khabar is accepting messages");
    // systemd (Type=notify) learns the gateway is up; a no-op without NOTIFY_SOCKET
    let _ = sd_notify::notify(false, &[NotifyState::Ready]);
    let server_stop = stop.clone();
    server
        .run(backend, async move { server_stop.cancelled().await })
        .await;

    // The socket is closed: stop claiming, let the binds drain their windows, then the rest.
    // Each step is bounded, so SIGTERM always ends the process; a stage cut short leaves its
    // messages `submitting`, and the next start puts them back in the queue.
    let _ = sd_notify::notify(false, &[NotifyState::Stopping]);
    stages.cancel();
    let response_timeout = config.operators.iter().map(|o| o.response_timeout).max();
    // the binds wait for outstanding answers, then for the unbind's answer
    let binds_limit = 2 * response_timeout.unwrap_or_default() + STOP_STEP;
    stop_task("claiming", STOP_STEP, dispatching).await;
    stop_within("the binds", binds_limit, pool.shutdown()).await;
    if let Some(keeping) = keeping {
        leases.cancel();
        stop_task("renewing the operator leases", STOP_STEP, keeping).await;
        // another node need not wait for them to expire; bounded, as they expire anyway
        // (with the database away the writer would keep trying to reconnect first)
        match tokio::time::timeout(RELEASE_PATIENCE, store.release_leases()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot give up the operator leases; they expire on their own")
            }
            Err(_) => tracing::warn!(
                "the operator leases were not given up in time; they expire on their own"
            ),
        }
    }
    stop_task("recording the operators' answers", STOP_STEP, outcomes).await;
    stop_task("recording receipts", STOP_STEP, receipts).await;
    let background = async { while tasks.join_next().await.is_some() {} };
    stop_within("the background tasks", STOP_STEP, background).await;
    tasks.shutdown().await; // aborts what overran
    // the binds are closed (what they held is given back): save what the simulator owes,
    // even if the store's flush below fails
    if let Some(sim) = simulator {
        stop_within("the embedded simulator", STOP_STEP, sim.stop()).await;
    }
    match tokio::time::timeout(STOP_STEP, store.flush()).await {
        Ok(flushed) => flushed?,
        // what is not on disk was never answered as accepted or recorded
        Err(_) => tracing::warn!("the store's last flush did not finish in time"),
    }
    log_summaries.abort();
    crate::log_gate::flush(true);
    tracing::info!("khabar stopped");
    Ok(())
}

/// How long a stopping node tries to give up its operator leases.
const RELEASE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// How long one shutdown step may take before the daemon goes on without it.
const STOP_STEP: std::time::Duration = std::time::Duration::from_secs(20);

/// Waits up to `limit` for `step` of the shutdown; past that, logs which step did not finish
/// and returns false so the caller goes on without it.
async fn stop_within<F: Future>(what: &str, limit: std::time::Duration, step: F) -> bool {
    let finished = tokio::time::timeout(limit, step).await.is_ok();
    if !finished {
        tracing::warn!(
            step = what,
            limit_s = limit.as_secs(),
            "a shutdown step did not finish in time; going on without it"
        );
    }
    finished
}

/// [`stop_within`] for a spawned stage, aborted if it overruns.
async fn stop_task(what: &str, limit: std::time::Duration, task: tokio::task::JoinHandle<()>) {
    let abort = task.abort_handle();
    if !stop_within(what, limit, task).await {
        abort.abort();
    }
}

/// Forgets long-expired OTP sessions and old send times every ten minutes.
async fn prune_otp_sessions(otp: Arc<OtpService>, stop: CancellationToken) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.cancelled() => return,
        }
        let otp = otp.clone();
        match tokio::task::spawn_blocking(move || otp.prune(now_ms())).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::debug!(removed = n, "old OTP sessions pruned"),
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot prune OTP sessions"),
            Err(e) => tracing::warn!(error = %e, "the OTP pruning task failed"),
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Opens the OTP sessions and their key. In cluster mode the key must be the cluster's: any
/// node may send an OTP another node sealed, and a code verifies only under the key that
/// hashed it. The first node to start records its key's fingerprint in the database; a node
/// with another key refuses to start, saying which file to copy.
async fn open_otp(config: &Config, store: &Store) -> Result<Arc<OtpService>, DaemonError> {
    let otp_config = config.otp.clone();
    let data_dir = config.data_dir.clone();
    let mut otp = tokio::task::spawn_blocking(move || OtpService::open(&otp_config, &data_dir))
        .await?
        .map_err(|e| format!("cannot open the OTP store: {e}"))?;
    if config.store.engine == StoreEngine::Postgres {
        let mine = otp.key_fingerprint();
        if store.agree("otp_key", &mine).await? != mine {
            let key = config.data_dir.join(&config.otp.secret_file);
            return Err(format!(
                "this node's OTP key file {} is not the one the cluster's first node started \
                 with: every node must have the same key file ([otp] secret_file); copy that \
                 node's here and start again",
                key.display()
            )
            .into());
        }
        otp.share_with_other_nodes();
    }
    Ok(Arc::new(otp))
}
