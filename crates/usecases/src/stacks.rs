//! Stacks (an organization's workspaces): create, rename, delete. Deleting one withdraws every
//! role on it, recording the role changes.

use serde_json::json;
use store::OrgScope;
use store::repo::stacks::{self, Stack};

use crate::events::{self, Event, EventType, Subject};
use crate::unit::{Audit, Unit};
use crate::{Actor, Core, Result};

fn stack_event(kind: EventType, stack: &Stack) -> Event {
    Event::new(
        kind,
        Subject::new("stack", stack.uid.clone()),
        json!({"id": stack.uid, "name": stack.name}),
    )
}

/// Creates a stack.
pub async fn create(core: &Core, actor: &Actor, scope: &OrgScope, name: &str) -> Result<Stack> {
    let mut unit = Unit::begin(core, actor).await?;
    let stack = stacks::create(unit.conn(), scope, name).await?;
    unit.emit(stack_event(EventType::StackCreated, &stack));
    let audit = Audit::new(
        "stack.created",
        "stack",
        &stack.uid,
        json!({"name": stack.name}),
    );
    unit.commit(Some(scope), audit).await?;
    Ok(stack)
}

/// Renames a stack.
pub async fn rename(
    core: &Core,
    actor: &Actor,
    scope: &OrgScope,
    uid: &str,
    name: &str,
) -> Result<Stack> {
    let mut unit = Unit::begin(core, actor).await?;
    let before = stacks::get(unit.conn(), scope, uid).await?;
    let stack = stacks::rename(unit.conn(), scope, uid, name).await?;
    if before.name != stack.name {
        unit.emit(
            stack_event(EventType::StackUpdated, &stack)
                .with_previous(json!({"name": before.name})),
        );
    }
    let audit = Audit::new(
        "stack.renamed",
        "stack",
        &stack.uid,
        json!({"from": before.name, "to": stack.name}),
    );
    unit.commit(Some(scope), audit).await?;
    Ok(stack)
}

/// Deletes a stack with every role on it (manual and mapped), recording an event for everyone
/// whose effective roles that changes.
pub async fn delete(core: &Core, actor: &Actor, scope: &OrgScope, uid: &str) -> Result<()> {
    let mut unit = Unit::begin(core, actor).await?;
    let stack = stacks::get(unit.conn(), scope, uid).await?;
    let changes = stacks::withdraw_roles(unit.conn(), scope, uid).await?;
    // The events name the stack, so they are built before it goes.
    let role_events = events::role_changes(unit.conn(), scope, &changes).await?;
    unit.emit_all(role_events);
    stacks::delete(unit.conn(), scope, uid).await?;
    unit.emit(stack_event(EventType::StackDeleted, &stack));
    let audit = Audit::new(
        "stack.deleted",
        "stack",
        &stack.uid,
        json!({"name": stack.name, "accounts_changed": changes.len()}),
    );
    unit.commit(Some(scope), audit).await
}
