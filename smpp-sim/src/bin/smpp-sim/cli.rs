//! Command-line arguments of the `smpp-sim` binary.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use smpp_sim::{OperatorConfig, SimConfig, SimError};

const AFTER_HELP: &str = "\
Examples:
  smpp-sim
      kcell, beeline, tele2 on 127.0.0.1:2775/2776/2777; system_id = the name, password `secret`
  smpp-sim --config smpp-sim/smpp-sim.example.toml
  smpp-sim --operator name=kcell,port=2775,password=kc-pass --receipt-delay 100-2000
  smpp-sim ctl stats
  smpp-sim ctl inject-mo --operator kcell --from 77011234567 --to 1414 --text 'Иә'
  smpp-sim ctl fault kcell throttle 0.1
  smpp-sim ctl fault kcell pause 5000
  smpp-sim ctl unbind kcell
  smpp-sim ctl inject kcell large-deliver-sm 5000

Test numbers (last four digits of destination_addr): 0000 UNDELIV, 0001 no receipt ever,
0002 REJECTD, 0003 EXPIRED, 0004 refused with ESME_RINVDSTADR. SIGTERM or Ctrl-C prints the
counters of every operator and exits 0.";

/// An SMPP 3.4 SMSC simulator standing in for Kazakhstan's mobile operators.
#[derive(Debug, Parser)]
#[command(name = "smpp-sim", version, after_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// Options for running the simulator (the default action).
    #[command(flatten)]
    pub run: RunArgs,
    /// Talk to a running simulator, or print the configuration.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do instead of running.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Control a running simulator through its control socket.
    Ctl(CtlArgs),
    /// Print the effective configuration (defaults, file and flags merged) as TOML.
    PrintConfig(RunArgs),
}

/// Options of the simulator itself.
#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// TOML configuration file (see smpp-sim.example.toml); flags override it.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// An operator, replacing the configured list when given at least once:
    /// `name=NAME[,port=N][,system_id=ID][,password=PW][,max_binds=N]`.
    #[arg(long = "operator", value_name = "SPEC")]
    pub operators: Vec<String>,
    /// Address to listen on (default 127.0.0.1).
    #[arg(long)]
    pub host: Option<IpAddr>,
    /// Receipt delay in milliseconds: `N` (fixed) or `MIN-MAX` (uniform).
    #[arg(long, value_name = "MS")]
    pub receipt_delay: Option<String>,
    /// Control socket path (default $TMPDIR/smpp-sim.sock).
    #[arg(long, value_name = "PATH")]
    pub control_socket: Option<PathBuf>,
    /// Do not open a control socket.
    #[arg(long)]
    pub no_control: bool,
}

impl RunArgs {
    /// Defaults, then the file, then the flags.
    pub fn load(&self) -> Result<SimConfig, SimError> {
        let mut config = match &self.config {
            Some(path) => SimConfig::from_file(path)?,
            None => SimConfig::default(),
        };
        if !self.operators.is_empty() {
            config.operators = self
                .operators
                .iter()
                .map(|spec| parse_operator(spec))
                .collect::<Result<_, _>>()?;
        }
        if let Some(host) = self.host {
            config.host = host;
        }
        if let Some(delay) = &self.receipt_delay {
            let (min, max) = parse_delay(delay)?;
            config.receipts.min_delay_ms = min;
            config.receipts.max_delay_ms = max;
        }
        if let Some(path) = &self.control_socket {
            config.control_socket = Some(path.clone());
        }
        config.validate()?;
        Ok(config)
    }
}

/// Parses `name=kcell,port=2775,system_id=kcell,password=secret,max_binds=8`.
pub fn parse_operator(spec: &str) -> Result<OperatorConfig, SimError> {
    let bad = |why: String| SimError::Config(format!("--operator {spec:?}: {why}"));
    let mut op = OperatorConfig::new("", 0);
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = field
            .split_once('=')
            .ok_or_else(|| bad(format!("{field:?} is not key=value")))?;
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| bad(format!("{key}={v:?} is not a number")))
        };
        match key.trim() {
            "name" => op.name = value.to_string(),
            "port" => {
                op.port = u16::try_from(number(value)?).map_err(|_| bad("port too big".into()))?
            }
            "system_id" => op.system_id = Some(value.to_string()),
            "password" => op.password = value.to_string(),
            "max_binds" => op.max_binds = number(value)? as usize,
            other => return Err(bad(format!("unknown key {other:?}"))),
        }
    }
    if op.name.is_empty() {
        return Err(bad("name= is required".into()));
    }
    Ok(op)
}

/// Parses `N` or `MIN-MAX` milliseconds.
pub fn parse_delay(text: &str) -> Result<(u64, u64), SimError> {
    let bad = || SimError::Config(format!("--receipt-delay {text:?}: expected N or MIN-MAX"));
    let number = |v: &str| v.trim().parse::<u64>().map_err(|_| bad());
    match text.split_once('-') {
        Some((min, max)) => Ok((number(min)?, number(max)?)),
        None => {
            let n = number(text)?;
            Ok((n, n))
        }
    }
}

/// `smpp-sim ctl` options.
#[derive(Debug, Args)]
pub struct CtlArgs {
    /// Control socket of the running simulator (default $TMPDIR/smpp-sim.sock).
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// The request.
    #[command(subcommand)]
    pub request: smpp_sim::ctl::CtlRequest,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_spec() {
        let op = parse_operator("name=kcell,port=2775,password=pw,max_binds=3").unwrap();
        assert_eq!(
            (op.name.as_str(), op.port, op.max_binds),
            ("kcell", 2775, 3)
        );
        assert_eq!(op.system_id(), "kcell");
        assert!(parse_operator("port=1").is_err());
        assert!(parse_operator("name=x,colour=red").is_err());
    }

    #[test]
    fn delay_spec() {
        assert_eq!(parse_delay("100").unwrap(), (100, 100));
        assert_eq!(parse_delay("5-50").unwrap(), (5, 50));
        assert!(parse_delay("soon").is_err());
    }

    #[test]
    fn ctl_requests_parse() {
        let cli = Cli::try_parse_from([
            "smpp-sim",
            "ctl",
            "inject",
            "kcell",
            "large-deliver-sm",
            "5000",
        ])
        .unwrap();
        let Some(Command::Ctl(ctl)) = cli.command else {
            panic!("not ctl");
        };
        assert!(matches!(
            ctl.request,
            smpp_sim::ctl::CtlRequest::Inject { ref pdu, octets: Some(5000), .. } if pdu == "large-deliver-sm"
        ));
        assert!(Cli::try_parse_from(["smpp-sim", "ctl", "unbind", "kcell"]).is_ok());
        assert!(Cli::try_parse_from(["smpp-sim", "ctl", "injected", "kcell"]).is_ok());
        assert!(Cli::try_parse_from(["smpp-sim", "ctl", "bind-times", "kcell"]).is_ok());
    }

    #[test]
    fn flags_override_defaults() {
        let args = RunArgs {
            operators: vec!["name=altel,port=0".into()],
            receipt_delay: Some("7".into()),
            ..RunArgs::default()
        };
        let config = args.load().unwrap();
        assert_eq!(config.operators.len(), 1);
        assert_eq!(config.receipts.max_delay_ms, 7);
    }
}
