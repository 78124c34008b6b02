//! Which contexts GitHub allows in which workflow key (the "context availability" table of the
//! workflow syntax docs). Using another context is a load-time error, as on GitHub.

use std::sync::LazyLock;

use gha_expr::ParseOptions;

macro_rules! contexts {
    ($($name:ident: [$($c:literal),*];)*) => {
        $(
            pub(crate) static $name: LazyLock<ParseOptions> =
                LazyLock::new(|| ParseOptions::new().with_contexts([$($c),*]));
        )*
    };
}

contexts! {
    WORKFLOW_LEVEL: ["github", "inputs", "vars"];
    WORKFLOW_ENV: ["github", "secrets", "inputs", "vars"];
    JOB_IF: ["github", "needs", "vars", "inputs"];
    JOB_STRATEGY: ["github", "needs", "vars", "inputs"];
    JOB: ["github", "needs", "strategy", "matrix", "vars", "inputs"];
    JOB_ENV: ["github", "needs", "strategy", "matrix", "vars", "secrets", "inputs"];
    JOB_SECRETS: ["github", "needs", "strategy", "matrix", "env", "vars", "secrets", "inputs"];
    JOB_DEFAULTS: ["github", "needs", "strategy", "matrix", "env", "vars", "inputs"];
    CONTAINER_ENV: ["github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "inputs"];
    ENVIRONMENT_URL: ["github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "steps", "inputs"];
    JOB_OUTPUTS: ["github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "steps", "inputs"];
    STEP: ["github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "steps", "inputs"];
    STEP_IF: ["github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "steps", "inputs"];
    CALL_OUTPUT: ["github", "jobs", "vars", "inputs"];
}
