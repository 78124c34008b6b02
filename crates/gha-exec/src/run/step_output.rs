//! The [`LogSink`] a step's process writes to: workflow commands are parsed and applied, every
//! other line is masked and sent on as a log event.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::emitter::Emitter;
use crate::commands::WorkflowCommand;
use crate::log_sink::{LogSink, OutputStream};
use crate::observer::{Annotation, AnnotationLevel, JobRef, RunEvent, StepRef};

const SET_OUTPUT_DEPRECATED: &str = "The `set-output` command is deprecated and will be disabled soon. Please upgrade to using Environment Files. For more information see: https://github.blog/changelog/2022-10-11-github-actions-deprecating-save-state-and-set-output-commands/";
const SAVE_STATE_DEPRECATED: &str = "The `save-state` command is deprecated and will be disabled soon. Please upgrade to using Environment Files. For more information see: https://github.blog/changelog/2022-10-11-github-actions-deprecating-save-state-and-set-output-commands/";

fn unsecure_disabled(command: &str) -> String {
    format!(
        "The `{command}` command is disabled. Please upgrade to using Environment Files or opt into unsecure command execution by setting the `ACTIONS_ALLOW_UNSECURE_COMMANDS` environment variable to `true`. For more information see: https://github.blog/changelog/2020-10-01-github-actions-deprecating-set-env-and-add-path-commands/"
    )
}

/// What the step's workflow commands changed.
#[derive(Debug, Default)]
pub(crate) struct CommandEffects {
    /// `set-output`.
    pub(crate) outputs: BTreeMap<String, String>,
    /// `save-state`.
    pub(crate) state: BTreeMap<String, String>,
    /// `set-env` (only when unsecure commands are allowed).
    pub(crate) env: Vec<(String, String)>,
    /// `add-path` (only when unsecure commands are allowed).
    pub(crate) paths: Vec<String>,
    /// A command failed: the step fails.
    pub(crate) failed: bool,
}

#[derive(Default)]
struct State {
    stop_token: Option<String>,
    echo: bool,
    effects: CommandEffects,
}

/// Processes one step's output.
pub(crate) struct StepOutput<'a> {
    emitter: &'a Emitter,
    job: &'a JobRef,
    step: &'a StepRef,
    allow_unsecure: bool,
    debug: bool,
    state: Mutex<State>,
}

impl<'a> StepOutput<'a> {
    pub(crate) fn new(
        emitter: &'a Emitter,
        job: &'a JobRef,
        step: &'a StepRef,
        allow_unsecure: bool,
        debug: bool,
    ) -> StepOutput<'a> {
        StepOutput {
            emitter,
            job,
            step,
            allow_unsecure,
            debug,
            // As the runner: step debugging echoes commands from the start.
            state: Mutex::new(State {
                echo: debug,
                ..State::default()
            }),
        }
    }

    pub(crate) fn into_effects(self) -> CommandEffects {
        self.state
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .effects
    }

    fn log(&self, stream: OutputStream, line: &str) {
        self.emitter.log(self.job, Some(self.step), stream, line);
    }

    fn fail(&self, state: &mut State, line: &str, message: &str) {
        self.emitter.error(
            self.job,
            Some(self.step),
            &format!("Unable to process command '{line}' successfully."),
        );
        self.emitter.error(self.job, Some(self.step), message);
        state.effects.failed = true;
    }

    fn handle(&self, state: &mut State, stream: OutputStream, line: &str, cmd: WorkflowCommand) {
        // The runner never echoes these (their text is a message, or a secret); `stop-commands`
        // is always shown, so that the log says why commands stopped working.
        let omit_echo = matches!(
            cmd.name.as_str(),
            "add-mask" | "debug" | "notice" | "warning" | "error"
        );
        if cmd.name == "stop-commands" || (state.echo && !omit_echo) {
            self.log(stream, line);
        }
        let job = self.job;
        let step = Some(self.step);
        match cmd.name.as_str() {
            "add-mask" => {
                if cmd.message.trim().is_empty() {
                    self.emitter
                        .warning(job, step, "Can't add secret mask for empty string in ##[add-mask] command.");
                } else {
                    if state.echo {
                        self.log(stream, "::add-mask::***");
                    }
                    self.emitter.masker.add(&cmd.message);
                }
            }
            "group" => self.emitter.emit(RunEvent::GroupStarted {
                job: job.clone(),
                step: self.step.clone(),
                title: self.emitter.mask(&cmd.message),
            }),
            "endgroup" => self.emitter.emit(RunEvent::GroupEnded {
                job: job.clone(),
                step: self.step.clone(),
            }),
            "debug" if self.debug => {
                self.emitter.emit(RunEvent::Debug {
                    job: job.clone(),
                    step: step.cloned(),
                    message: self.emitter.mask(&cmd.message),
                });
            }
            "notice" | "warning" | "error" => {
                let level = match cmd.name.as_str() {
                    "notice" => AnnotationLevel::Notice,
                    "warning" => AnnotationLevel::Warning,
                    _ => AnnotationLevel::Error,
                };
                let num = |k: &str| cmd.properties.get(k).and_then(|v| v.trim().parse::<u64>().ok());
                self.emitter.annotate(
                    job,
                    step,
                    Annotation {
                        level,
                        message: cmd.message.clone(),
                        title: cmd.properties.get("title").cloned(),
                        file: cmd.properties.get("file").cloned(),
                        line: num("line"),
                        end_line: num("endLine"),
                        col: num("col"),
                        end_column: num("endColumn"),
                    },
                );
            }
            "set-output" => {
                self.emitter.warning(job, step, SET_OUTPUT_DEPRECATED);
                match cmd.properties.get("name") {
                    Some(name) => {
                        state.effects.outputs.insert(name.clone(), cmd.message.clone());
                    }
                    None => self.fail(state, line, "Required field 'name' is missing in ##[set-output] command."),
                }
            }
            "save-state" => {
                self.emitter.warning(job, step, SAVE_STATE_DEPRECATED);
                match cmd.properties.get("name") {
                    Some(name) => {
                        state.effects.state.insert(name.clone(), cmd.message.clone());
                    }
                    None => self.fail(state, line, "Required field 'name' is missing in ##[save-state] command."),
                }
            }
            "set-env" => {
                if !self.allow_unsecure {
                    self.fail(state, line, &unsecure_disabled("set-env"));
                } else {
                    match cmd.properties.get("name") {
                        Some(name) => state.effects.env.push((name.clone(), cmd.message.clone())),
                        None => self.fail(state, line, "Required field 'name' is missing in ##[set-env] command."),
                    }
                }
            }
            "add-path" => {
                if !self.allow_unsecure {
                    self.fail(state, line, &unsecure_disabled("add-path"));
                } else {
                    state.effects.paths.push(cmd.message.clone());
                }
            }
            "stop-commands" => {
                let token = cmd.message.clone();
                if token.is_empty() || token == "pause-logging" {
                    self.fail(state, line, "Invalid stop command token.");
                } else {
                    state.stop_token = Some(token);
                }
            }
            "echo" => match cmd.message.trim().to_ascii_lowercase().as_str() {
                "on" => state.echo = true,
                "off" => state.echo = false,
                other => self.fail(
                    state,
                    line,
                    &format!("Invalid echo command value. Possible values can be: 'on', 'off'. Current value is: '{other}'."),
                ),
            },
            // Problem matchers are not implemented: accepted and ignored.
            _ => {}
        }
    }
}

impl LogSink for StepOutput<'_> {
    fn line(&self, stream: OutputStream, line: &str) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(token) = &state.stop_token {
            let resumes = WorkflowCommand::parse_any(line)
                .is_some_and(|c| c.name.eq_ignore_ascii_case(token) && c.properties.is_empty());
            if resumes {
                state.stop_token = None;
                self.log(stream, line);
            } else {
                self.log(stream, line);
            }
            return;
        }
        match WorkflowCommand::parse(line) {
            Some(cmd) => self.handle(&mut state, stream, line, cmd),
            None => self.log(stream, line),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::masker::Masker;
    use crate::observer::RunObserver;

    #[derive(Default)]
    struct Collect(Mutex<Vec<RunEvent>>);
    impl RunObserver for Collect {
        fn on_event(&self, e: &RunEvent) {
            self.0.lock().unwrap().push(e.clone());
        }
    }

    fn run(lines: &[&str], allow: bool) -> (Vec<RunEvent>, CommandEffects) {
        run_with_debug(lines, allow, false)
    }

    fn run_with_debug(lines: &[&str], allow: bool, debug: bool) -> (Vec<RunEvent>, CommandEffects) {
        let obs = Arc::new(Collect::default());
        let emitter = Emitter {
            masker: Arc::new(Masker::new()),
            observer: obs.clone(),
        };
        let job = JobRef::default();
        let step = StepRef::default();
        let out = StepOutput::new(&emitter, &job, &step, allow, debug);
        for l in lines {
            out.line(OutputStream::Stdout, l);
        }
        let effects = out.into_effects();
        let events = obs.0.lock().unwrap().clone();
        (events, effects)
    }

    fn texts(events: &[RunEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                RunEvent::Log { line, .. } => format!("log {line}"),
                RunEvent::Annotation { annotation, .. } => {
                    format!("{} {}", annotation.level.as_str(), annotation.message)
                }
                RunEvent::GroupStarted { title, .. } => format!("group {title}"),
                RunEvent::GroupEnded { .. } => "endgroup".into(),
                RunEvent::Debug { message, .. } => format!("debug {message}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn command_names_ignore_case_as_the_runner() {
        let (ev, _) = run(
            &[
                "::WARNING::loud",
                "::Add-Mask::hush",
                "hush is masked",
                "::stop-commands::Tok",
                "::warning::inert",
                "::TOK::",
                "::Warning::live again",
            ],
            false,
        );
        assert_eq!(
            texts(&ev),
            [
                "warning loud",
                "log *** is masked",
                "log ::stop-commands::Tok",
                "log ::warning::inert",
                "log ::TOK::",
                "warning live again"
            ]
        );
    }

    #[test]
    fn add_mask_masks_later_lines() {
        let (ev, _) = run(&["::add-mask::s3cret", "the s3cret is out"], false);
        assert_eq!(texts(&ev), ["log the *** is out"]);
    }

    #[test]
    fn stop_commands_and_resume() {
        let (ev, fx) = run(
            &[
                "::stop-commands::tok",
                "::warning::not a command",
                "::tok::",
                "::warning::now it is",
            ],
            false,
        );
        // The runner always shows the stop and the resume lines.
        assert_eq!(
            texts(&ev),
            [
                "log ::stop-commands::tok",
                "log ::warning::not a command",
                "log ::tok::",
                "warning now it is"
            ]
        );
        assert!(!fx.failed);
    }

    #[test]
    fn set_output_warns_and_records() {
        let (ev, fx) = run(&["::set-output name=x::1"], false);
        assert_eq!(texts(&ev), [format!("warning {SET_OUTPUT_DEPRECATED}")]);
        assert_eq!(fx.outputs.get("x").map(String::as_str), Some("1"));
    }

    #[test]
    fn set_env_is_refused_unless_allowed() {
        let (ev, fx) = run(&["::set-env name=A::b"], false);
        assert!(fx.failed);
        assert_eq!(
            texts(&ev)[0],
            "error Unable to process command '::set-env name=A::b' successfully."
        );
        let (_, fx) = run(&["::set-env name=A::b", "::add-path::/x"], true);
        assert!(!fx.failed);
        assert_eq!(fx.env, [("A".to_string(), "b".to_string())]);
        assert_eq!(fx.paths, ["/x"]);
    }

    #[test]
    fn echo_follows_the_runner() {
        // Echo on: commands are shown, except those the runner never echoes (add-mask shows
        // `::add-mask::***`; debug and annotations show as what they are).
        let (ev, _) = run(
            &[
                "::set-output name=a::1",
                "::echo::ON",
                "::add-mask::hide-me",
                "::warning::w",
                "::set-output name=b::2",
                "::echo::off",
                "::set-output name=c::3",
            ],
            false,
        );
        let logs: Vec<String> = texts(&ev)
            .into_iter()
            .filter(|t| t.starts_with("log "))
            .collect();
        assert_eq!(
            logs,
            [
                "log ::add-mask::***",
                "log ::set-output name=b::2",
                "log ::echo::off"
            ]
        );
        // Step debugging echoes from the first line.
        let (ev, _) = run_with_debug(&["::set-output name=x::1", "::debug::d"], false, true);
        assert_eq!(
            texts(&ev),
            [
                "log ::set-output name=x::1".to_string(),
                format!("warning {SET_OUTPUT_DEPRECATED}"),
                "debug d".to_string()
            ]
        );
    }

    #[test]
    fn annotations_groups_and_echo() {
        let (ev, _) = run_with_debug(
            &[
                "::group::G",
                "::error file=a.rs,line=3,col=2,title=T::bad",
                "::endgroup::",
                "::echo::on",
                "::debug::d",
                "::unknown::kept",
            ],
            false,
            false,
        );
        assert_eq!(
            texts(&ev),
            ["group G", "error bad", "endgroup", "log ::unknown::kept"]
        );
        let RunEvent::Annotation { annotation, .. } = &ev[1] else {
            panic!()
        };
        assert_eq!(annotation.location().as_deref(), Some("a.rs:3:2"));
        assert_eq!(annotation.title.as_deref(), Some("T"));
    }
}
