//! `smpp-sim ctl`: one request to the control socket, the answer printed.

use smpp_sim::SimError;
use smpp_sim::control::default_socket_path;

use crate::cli::CtlArgs;

/// Sends the request to the socket given (or the default one) and prints the answer.
pub async fn run(args: CtlArgs) -> Result<(), SimError> {
    let path = args.socket.unwrap_or_else(default_socket_path);
    smpp_sim::ctl::run(&path, args.request).await
}
