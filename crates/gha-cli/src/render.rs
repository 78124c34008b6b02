//! How a run looks: the terminal renderer (job-name prefixes, colours and a live progress
//! display on a terminal, durations, groups, annotations with locations, a final summary
//! table) and the `--json` event stream.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use gha_exec::{AnnotationLevel, Conclusion, JobRef, OutputStream, RunEvent, RunObserver};

const COLOURS: [&str; 6] = ["36", "33", "35", "32", "34", "31"];

fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else {
        let m = (s / 60.0).floor();
        format!("{}m{:.0}s", m as u64, s - m * 60.0)
    }
}

struct JobRow {
    name: String,
    conclusion: Conclusion,
    duration: Duration,
}

struct Summary {
    job: String,
    step: String,
    markdown: String,
}

struct State {
    colours: HashMap<String, &'static str>,
    rows: Vec<JobRow>,
    summaries: Vec<Summary>,
    progress: Option<indicatif::MultiProgress>,
    bars: HashMap<String, indicatif::ProgressBar>,
}

/// Prints events for a person.
pub struct Terminal {
    colour: bool,
    state: Mutex<State>,
}

impl Terminal {
    /// `interactive`: stdout is a terminal (colours and the live progress display).
    pub fn new(interactive: bool) -> Terminal {
        let progress = interactive.then(|| {
            indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stdout())
        });
        Terminal {
            colour: interactive,
            state: Mutex::new(State {
                colours: HashMap::new(),
                rows: Vec::new(),
                summaries: Vec::new(),
                progress,
                bars: HashMap::new(),
            }),
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn prefix(&self, st: &mut State, job: &JobRef) -> String {
        let n = st.colours.len();
        let colour = *st
            .colours
            .entry(job.name.clone())
            .or_insert(COLOURS[n % COLOURS.len()]);
        self.paint(colour, &format!("[{}]", job.name))
    }

    fn println(&self, st: &State, line: String) {
        match &st.progress {
            Some(mp) => {
                let _ = mp.println(line);
            }
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
            }
        }
    }

    /// The final table of jobs and the step summaries.
    pub fn finish(&self, conclusion: Conclusion, duration: Duration) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mp) = st.progress.take() {
            let _ = mp.clear();
        }
        let mut out = std::io::stdout().lock();
        if !st.summaries.is_empty() {
            let _ = writeln!(out);
            for s in &st.summaries {
                let _ = writeln!(
                    out,
                    "{}",
                    self.paint("1", &format!("Summary of {} / {}", s.job, s.step))
                );
                let _ = writeln!(out, "{}", s.markdown.trim_end());
                let _ = writeln!(out);
            }
        }
        let width = st
            .rows
            .iter()
            .map(|r| r.name.chars().count())
            .max()
            .unwrap_or(3)
            .max(3);
        let _ = writeln!(out);
        let _ = writeln!(out, "{:<width$}  {:<10}  DURATION", "JOB", "CONCLUSION");
        for r in &st.rows {
            let c = self.paint(
                conclusion_colour(r.conclusion),
                &format!("{:<10}", r.conclusion.as_str()),
            );
            let _ = writeln!(out, "{:<width$}  {c}  {}", r.name, fmt_duration(r.duration));
        }
        let _ = writeln!(
            out,
            "\nRun {} in {}",
            self.paint(conclusion_colour(conclusion), conclusion.as_str()),
            fmt_duration(duration)
        );
    }
}

fn conclusion_colour(c: Conclusion) -> &'static str {
    match c {
        Conclusion::Success => "32",
        Conclusion::Failure => "31",
        Conclusion::Cancelled => "33",
        Conclusion::Skipped => "90",
    }
}

impl RunObserver for Terminal {
    fn on_event(&self, event: &RunEvent) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            RunEvent::RunStarted { .. } | RunEvent::RunFinished { .. } => {}
            RunEvent::JobStarted { job } => {
                let p = self.prefix(&mut st, job);
                self.println(&st, format!("{p} 🚀 Start job"));
                if let Some(mp) = &st.progress {
                    let bar = mp.add(indicatif::ProgressBar::new_spinner());
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{spinner} {prefix} {wide_msg} {elapsed}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                    );
                    bar.set_prefix(job.name.clone());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    st.bars.insert(job.name.clone(), bar);
                }
            }
            RunEvent::JobFinished {
                job,
                conclusion,
                duration,
                ..
            } => {
                let p = self.prefix(&mut st, job);
                let verb = match conclusion {
                    Conclusion::Success => "✅ Job succeeded",
                    Conclusion::Failure => "❌ Job failed",
                    Conclusion::Cancelled => "🚫 Job cancelled",
                    Conclusion::Skipped => "⏭  Job skipped",
                };
                self.println(&st, format!("{p} 🏁 {verb} [{}]", fmt_duration(*duration)));
                if let Some(bar) = st.bars.remove(&job.name) {
                    bar.finish_and_clear();
                }
                st.rows.push(JobRow {
                    name: job.name.clone(),
                    conclusion: *conclusion,
                    duration: *duration,
                });
            }
            RunEvent::StepStarted { job, step } => {
                let p = self.prefix(&mut st, job);
                self.println(&st, format!("{p} ⭐ {}", step.name));
                if let Some(bar) = st.bars.get(&job.name) {
                    bar.set_message(step.name.clone());
                }
            }
            RunEvent::StepFinished {
                job,
                step,
                outcome,
                conclusion,
                duration,
            } => {
                let p = self.prefix(&mut st, job);
                let text = match (outcome, conclusion) {
                    (Conclusion::Skipped, _) => format!("⏭  Skipped - {}", step.name),
                    (Conclusion::Failure, Conclusion::Success) => {
                        format!(
                            "⚠️  Failure (continue-on-error) - {} [{}]",
                            step.name,
                            fmt_duration(*duration)
                        )
                    }
                    (Conclusion::Success, _) => {
                        format!("✅ Success - {} [{}]", step.name, fmt_duration(*duration))
                    }
                    (Conclusion::Failure, _) => {
                        format!("❌ Failure - {} [{}]", step.name, fmt_duration(*duration))
                    }
                    (Conclusion::Cancelled, _) => {
                        format!("🚫 Cancelled - {} [{}]", step.name, fmt_duration(*duration))
                    }
                };
                self.println(&st, format!("{p}   {text}"));
            }
            RunEvent::Log {
                job, stream, line, ..
            } => {
                let p = self.prefix(&mut st, job);
                let bar = if *stream == OutputStream::Stderr {
                    "!"
                } else {
                    "|"
                };
                self.println(&st, format!("{p}   {bar} {line}"));
            }
            RunEvent::GroupStarted { job, title, .. } => {
                let p = self.prefix(&mut st, job);
                self.println(&st, format!("{p}   ▼ {}", self.paint("1", title)));
            }
            RunEvent::GroupEnded { .. } => {}
            RunEvent::Debug { job, message, .. } => {
                let p = self.prefix(&mut st, job);
                self.println(
                    &st,
                    format!("{p}   {}", self.paint("90", &format!("debug: {message}"))),
                );
            }
            RunEvent::Annotation {
                job, annotation, ..
            } => {
                let p = self.prefix(&mut st, job);
                let (icon, colour) = match annotation.level {
                    AnnotationLevel::Error => ("❗", "31"),
                    AnnotationLevel::Warning => ("⚠️ ", "33"),
                    AnnotationLevel::Notice => ("ℹ️ ", "34"),
                };
                let mut text = annotation.level.as_str().to_string();
                if let Some(loc) = annotation.location() {
                    text.push_str(&format!(" {loc}"));
                }
                text.push_str(": ");
                if let Some(t) = &annotation.title {
                    text.push_str(&format!("{t}: "));
                }
                text.push_str(&annotation.message);
                self.println(&st, format!("{p}   {icon} {}", self.paint(colour, &text)));
            }
            RunEvent::StepSummary {
                job,
                step,
                markdown,
            } => {
                st.summaries.push(Summary {
                    job: job.name.clone(),
                    step: step.name.clone(),
                    markdown: markdown.clone(),
                });
            }
        }
    }
}

/// `--json`: one event per line on stdout.
pub struct JsonLines;

impl RunObserver for JsonLines {
    fn on_event(&self, event: &RunEvent) {
        if let Ok(line) = serde_json::to_string(event) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
    }
}

/// Saves step summaries to `--summary-dir` as `<job>--<step>.md`.
pub struct SummaryDir {
    pub dir: std::path::PathBuf,
}

impl RunObserver for SummaryDir {
    fn on_event(&self, event: &RunEvent) {
        if let RunEvent::StepSummary {
            job,
            step,
            markdown,
        } = event
        {
            let name = format!(
                "{}--{}.md",
                gha_exec::backend::sanitize_name(&job.name),
                gha_exec::backend::sanitize_name(&step.id)
            );
            let path = self.dir.join(name);
            let _ = std::fs::create_dir_all(&self.dir);
            let mut f = match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
            {
                Ok(f) => f,
                Err(_) => return,
            };
            let _ = f.write_all(markdown.as_bytes());
        }
    }
}

/// Sends every event to several observers.
pub struct Fanout(pub Vec<std::sync::Arc<dyn RunObserver>>);

impl RunObserver for Fanout {
    fn on_event(&self, event: &RunEvent) {
        for o in &self.0 {
            o.on_event(event);
        }
    }
}
