//! The embedded simulator: operators with `host = "embedded"` talk to an smpp-sim started
//! inside the daemon (ephemeral 127.0.0.1 ports), so the repository's config.toml gives a
//! working gateway on a fresh machine. Its control socket lets `smpp-sim ctl` drive it.

use crate::config::Config;
use crate::sessions::{Endpoint, OperatorConfig};
use smpp_sim::control::ControlServer;
use smpp_sim::{SimConfig, SimHandle, Simulator};

/// The running embedded simulator.
pub(super) struct Embedded {
    sim: SimHandle,
    _control: Option<ControlServer>,
}

impl Embedded {
    /// Stops it.
    pub(super) async fn stop(self) {
        self.sim.shutdown().await;
    }
}

/// Starts the simulator when an operator asks for it.
pub(super) async fn start_if_needed(config: &Config) -> Result<Option<Embedded>, String> {
    if !config.needs_simulator() {
        return Ok(None);
    }
    let mut sim_config: SimConfig = config.simulator.clone();
    for operator in &mut sim_config.operators {
        operator.port = 0;
    }
    let control_path = config.data_dir.join("smpp-sim.sock");
    sim_config.control_socket = None;
    let sim = Simulator::start(sim_config)
        .await
        .map_err(|e| format!("cannot start the embedded simulator: {e}"))?;
    let control = match ControlServer::start(sim.clone(), &control_path).await {
        Ok(control) => Some(control),
        Err(e) => {
            tracing::warn!(error = %e, "the embedded simulator runs without its control socket");
            None
        }
    };
    let ports: Vec<String> = sim
        .operators()
        .iter()
        .map(|o| format!("{} on {}", o.name, o.addr))
        .collect();
    let simulated: Vec<&str> = (config.operators.iter())
        .filter(|o| o.is_embedded())
        .map(|o| o.name.as_str())
        .collect();
    tracing::warn!(
        operators = %ports.join(", "),
        control = %control_path.display(),
        "operators {} are the embedded simulator: their messages reach no handset (give them \
         an SMSC's host to send for real)",
        simulated.join(", ")
    );
    Ok(Some(Embedded {
        sim,
        _control: control,
    }))
}

/// Where to reach `operator`: its own host, or the embedded simulator's port for it.
pub(super) fn endpoint(
    operator: &OperatorConfig,
    embedded: Option<&Embedded>,
) -> Result<Endpoint, String> {
    let (host, port) = match (operator.is_embedded(), embedded) {
        (true, Some(e)) => {
            let port = e
                .sim
                .port(&operator.name)
                .map_err(|e| format!("operator {}: {e}", operator.name))?;
            ("127.0.0.1".to_owned(), port)
        }
        (true, None) => return Err(format!("operator {}: no embedded simulator", operator.name)),
        (false, _) => (operator.host.clone(), operator.port),
    };
    Ok(Endpoint {
        config: operator.clone(),
        host,
        port,
    })
}
