//! The `stepgate` binary: parses the command line and runs it (see `stepgate_idp::cli`).

use clap::Parser;
use std::process::ExitCode;
use stepgate_idp::cli::{self, Cli, Io};

fn main() -> ExitCode {
    let args = Cli::parse();
    cli::init_logging(args.log_json);
    // A name of our own (tokio's default changed between versions): the benchmarks tell the
    // runtime's threads from sqlx's by it (tests/bench/driver/src/cpu.rs).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .thread_name("stepgate-rt")
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
