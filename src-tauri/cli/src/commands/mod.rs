//! One module per command, and what they share.
//!
//! A command gets a [`Context`] (the printer, the Ctrl-C token, the connection flags) and
//! returns a [`Status`]. Commands that talk to a server open their [`Connection`] themselves,
//! after checking their arguments, so a usage error never starts a sandbox or touches the
//! network.

mod asset;
mod forget;
mod list;
mod resumable;
mod resume;
mod sandbox;
mod status;
mod transfer;
mod upload;
mod wait;

use std::future::Future;

use tl_upload::CancellationToken;

use crate::args::{Cli, Command, ConnectionArgs};
use crate::connect::Connection;
use crate::failure::{Failure, Status};
use crate::interrupt;
use crate::output::Output;

/// What every command gets.
#[derive(Debug)]
pub struct Context {
    /// The printer.
    pub out: Output,
    /// Cancelled by the first Ctrl-C.
    pub cancel: CancellationToken,
    /// The connection flags, merged from before and after the command.
    pub connection: ConnectionArgs,
}

impl Context {
    fn new(connection: ConnectionArgs) -> Self {
        let out = Output::new(connection.json);
        let cancel = interrupt::install(&out);
        Self {
            out,
            cancel,
            connection,
        }
    }

    /// Opens the connection the flags describe.
    pub fn connect(&self) -> Result<Connection, Failure> {
        let connection = Connection::open(&self.connection, &self.out)?;
        for line in connection.network_summary() {
            self.detail(&line);
        }
        Ok(connection)
    }

    /// A message on stderr for `-v` only: what tlup does on the side.
    pub fn detail(&self, text: &str) {
        if self.connection.verbose {
            self.out.note(text);
        }
    }

    /// Runs `work` unless Ctrl-C comes first.
    pub async fn interruptible<T>(
        &self,
        work: impl Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        tokio::select! {
            () = self.cancel.cancelled() => Err(Failure::failed("interrupted")),
            result = work => result,
        }
    }

    /// Prints the failure of a single-result command, if any, and returns the status.
    pub fn conclude(&self, result: Result<(), Failure>) -> Status {
        match result {
            Ok(()) => Status::Done,
            Err(failure) => {
                self.out.failure(&failure, None);
                failure.status
            }
        }
    }
}

/// Runs the command the user asked for.
pub async fn run(cli: Cli) -> Status {
    let Cli {
        connection,
        command,
    } = cli;
    match command {
        Command::Upload(args) => {
            let ctx = Context::new(connection.merged(&args.connection));
            upload::run(&ctx, args).await
        }
        Command::Resume(args) => {
            let ctx = Context::new(connection.merged(&args.connection));
            resume::run(&ctx, args).await
        }
        Command::Forget(args) => {
            let ctx = Context::new(connection.merged(&args.connection));
            let result = forget::run(&ctx, &args).await;
            ctx.conclude(result)
        }
        Command::Status(args) => {
            let ctx = Context::new(connection.merged(&args.connection));
            let result = status::run(&ctx, &args).await;
            ctx.conclude(result)
        }
        Command::List(args) => {
            let ctx = Context::new(connection.merged(&args.connection));
            let result = list::run(&ctx).await;
            ctx.conclude(result)
        }
        Command::Wait(args) => {
            let ctx = Context::new(connection.merged(&args.connection));
            let result = wait::run(&ctx, &args).await;
            ctx.conclude(result)
        }
        Command::Asset(args) => {
            let ctx = Context::new(connection.merged(&args.connection));
            let result = asset::run(&ctx, &args).await;
            ctx.conclude(result)
        }
        Command::Sandbox(args) => {
            let ctx = Context::new(ConnectionArgs::default());
            let result = sandbox::run(&ctx, args).await;
            ctx.conclude(result)
        }
    }
}
