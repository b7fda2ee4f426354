//! The `stepgate` binary: parses the command line and runs it (see `stepgate_idp::cli`).

use clap::Parser;
use std::process::ExitCode;
use stepgate_idp::cli::{self, Cli, Io};

fn main() -> ExitCode {
    let args = Cli::parse();
    cli::init_logging(args.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (mut stdin, mut stdout, mut stderr) =
        (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let mut io = Io {
        stdin: &mut stdin,
        stdout: &mut stdout,
        stderr: &mut stderr,
    };
    match runtime.block_on(cli::run(args, &mut io)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
