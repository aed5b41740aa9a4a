//! The lifecycle stages' prompts: minijinja templates compiled into the binary (the
//! `templates/` folder next to this file), rendered with strict undefined variables.
//!
//! Why not `prompts/` with the sketch variants: that folder's loader validates a variant
//! layout made for sketch generation (every directory is a variant with the SG templates).
//! The stage prompts have no variants yet; when an experiment needs them, they move there as a
//! flow of their own.

use autopilot_trace::{ChatMessage, Role};
use minijinja::Environment;
use serde::Serialize;

/// One template of the stage prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageTemplate {
    /// The system message of both stages (`stage` says which).
    System,
    /// Data processing: propose the operations (JSON).
    DpPlan,
    /// Data processing: the plan answer was refused; propose it again.
    DpPlanRepair,
    /// Data processing: the code of one operation.
    DpCode,
    /// Data processing: the operation's run or outputs failed; repair its code.
    DpRepair,
    /// Model conversion: the conversion script.
    McCode,
    /// Model conversion: the run or the model check failed; repair the script.
    McRepair,
}

const TEMPLATES: &[(StageTemplate, &str, &str)] = &[
    (
        StageTemplate::System,
        "system",
        include_str!("templates/system.j2"),
    ),
    (
        StageTemplate::DpPlan,
        "dp_plan",
        include_str!("templates/dp_plan.j2"),
    ),
    (
        StageTemplate::DpPlanRepair,
        "dp_plan_repair",
        include_str!("templates/dp_plan_repair.j2"),
    ),
    (
        StageTemplate::DpCode,
        "dp_code",
        include_str!("templates/dp_code.j2"),
    ),
    (
        StageTemplate::DpRepair,
        "dp_repair",
        include_str!("templates/dp_repair.j2"),
    ),
    (
        StageTemplate::McCode,
        "mc_code",
        include_str!("templates/mc_code.j2"),
    ),
    (
        StageTemplate::McRepair,
        "mc_repair",
        include_str!("templates/mc_repair.j2"),
    ),
];

impl StageTemplate {
    pub fn name(self) -> &'static str {
        TEMPLATES
            .iter()
            .find(|(t, _, _)| *t == self)
            .map_or("?", |(_, name, _)| name)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("stage prompt `{name}`: {message}")]
pub struct StagePromptError {
    pub name: &'static str,
    pub message: String,
}

/// The compiled stage templates.
#[derive(Debug)]
pub struct StagePrompts {
    env: Environment<'static>,
}

impl Default for StagePrompts {
    fn default() -> Self {
        StagePrompts::new()
    }
}

impl StagePrompts {
    pub fn new() -> StagePrompts {
        let mut env = crate::prompts::template_environment();
        for (_, name, source) in TEMPLATES {
            // The templates are ours and compiled in; a syntax error is caught by the tests
            // (`every_stage_template_renders`) and surfaces as a render error, not a panic.
            let _ = env.add_template(name, source);
        }
        StagePrompts { env }
    }

    /// Renders one template.
    pub fn render_one(
        &self,
        template: StageTemplate,
        context: &impl Serialize,
    ) -> Result<String, StagePromptError> {
        let name = template.name();
        let error = |e: &minijinja::Error| StagePromptError {
            name,
            message: format!("{e:#}"),
        };
        let compiled = self.env.get_template(name).map_err(|e| error(&e))?;
        let text = compiled.render(context).map_err(|e| error(&e))?;
        Ok(text.trim().to_owned() + "\n")
    }

    /// The chat messages of a task: the stage's system message, then the task.
    pub fn messages(
        &self,
        stage: &str,
        task: StageTemplate,
        context: &impl Serialize,
    ) -> Result<Vec<ChatMessage>, StagePromptError> {
        let system = self.render_one(
            StageTemplate::System,
            &serde_json::json!({ "stage": stage }),
        )?;
        Ok(vec![
            ChatMessage {
                role: Role::System,
                content: system,
            },
            ChatMessage {
                role: Role::User,
                content: self.render_one(task, context)?,
            },
        ])
    }
}
