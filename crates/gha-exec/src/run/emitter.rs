//! Sends run events to the observer, masking every string first.

use std::sync::Arc;

use crate::log_sink::OutputStream;
use crate::masker::Masker;
use crate::observer::{Annotation, AnnotationLevel, JobRef, RunEvent, RunObserver, StepRef};

/// The executor's only way out: every event goes through the masker here.
#[derive(Clone)]
pub(crate) struct Emitter {
    pub(crate) masker: Arc<Masker>,
    pub(crate) observer: Arc<dyn RunObserver>,
}

impl Emitter {
    pub(crate) fn mask(&self, s: &str) -> String {
        self.masker.mask(s).into_owned()
    }

    pub(crate) fn emit(&self, event: RunEvent) {
        self.observer.on_event(&event);
    }

    pub(crate) fn log(
        &self,
        job: &JobRef,
        step: Option<&StepRef>,
        stream: OutputStream,
        line: &str,
    ) {
        self.emit(RunEvent::Log {
            job: job.clone(),
            step: step.cloned(),
            stream,
            line: self.mask(line),
        });
    }

    pub(crate) fn annotate(
        &self,
        job: &JobRef,
        step: Option<&StepRef>,
        mut annotation: Annotation,
    ) {
        annotation.message = self.mask(&annotation.message);
        annotation.title = annotation.title.map(|t| self.mask(&t));
        annotation.file = annotation.file.map(|t| self.mask(&t));
        self.emit(RunEvent::Annotation {
            job: job.clone(),
            step: step.cloned(),
            annotation,
        });
    }

    pub(crate) fn error(&self, job: &JobRef, step: Option<&StepRef>, message: &str) {
        self.annotate(
            job,
            step,
            Annotation {
                level: AnnotationLevel::Error,
                message: message.to_string(),
                ..Annotation::default()
            },
        );
    }

    pub(crate) fn warning(&self, job: &JobRef, step: Option<&StepRef>, message: &str) {
        self.annotate(
            job,
            step,
            Annotation {
                level: AnnotationLevel::Warning,
                message: message.to_string(),
                ..Annotation::default()
            },
        );
    }

    pub(crate) fn notice(&self, job: &JobRef, step: Option<&StepRef>, message: &str) {
        self.annotate(
            job,
            step,
            Annotation {
                level: AnnotationLevel::Notice,
                message: message.to_string(),
                ..Annotation::default()
            },
        );
    }
}
