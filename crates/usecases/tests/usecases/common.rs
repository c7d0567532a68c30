//! One organization on a fresh database, and the writes the tests make through the use cases.

use serde_json::{Value, json};
use store::ids::EventId;
use store::repo::events;
use store::{Database, OrgScope};
use testkit::{Backend, TestDatabase};
use usecases::organizations::{NewOrganization, OwnerAccess};
use usecases::scim::{Ctx, ScimSettings, users};
use usecases::{Actor, ActorKind, Core, Settings};

pub struct World {
    pub _db: TestDatabase,
    pub core: Core,
    pub scope: OrgScope,
    pub owner_email: String,
}

/// The SCIM settings of the tests (a fixed cursor key).
pub fn scim_settings() -> ScimSettings {
    ScimSettings::new(b"0123456789abcdef0123456789abcdef")
}

/// A SCIM request of `actor` in the world's organization.
pub fn world_ctx<'a>(world: &'a World, actor: &'a Actor, settings: &'a ScimSettings) -> Ctx<'a> {
    Ctx {
        core: &world.core,
        scope: &world.scope,
        actor,
        settings,
        base_url: "http://scim.test",
    }
}

pub async fn world(backend: Backend) -> World {
    world_with(backend, Settings::for_region("local")).await
}

/// A world whose use cases run with `settings`.
pub async fn world_with(backend: Backend, settings: Settings) -> World {
    let db = TestDatabase::create(backend).await;
    let store = store::connect(&db.url, &Default::default()).await.unwrap();
    store::db::migrate(&store).await.unwrap();
    let kv = store::kv::open(&backend.kv_url(), &testkit::unique_namespace())
        .await
        .unwrap();
    let core = Core::new(store, kv, settings);
    let created = usecases::organizations::create(
        &core,
        &Actor::operator(),
        NewOrganization {
            name: "Acme".into(),
            owner_email: "owner@acme.test".into(),
            owner_access: OwnerAccess::GeneratedPassword,
        },
    )
    .await
    .unwrap();
    let scope = store::repo::organizations::operator_scope(core.db(), &created.organization.uid)
        .await
        .unwrap();
    World {
        _db: db,
        core,
        scope,
        owner_email: "owner@acme.test".into(),
    }
}

impl World {
    /// A second organization on the same database (for tenant isolation checks).
    pub async fn second_org(&self) -> OrgScope {
        let created = usecases::organizations::create(
            &self.core,
            &Actor::operator(),
            NewOrganization {
                name: "Beta".into(),
                owner_email: "owner@beta.test".into(),
                owner_access: OwnerAccess::GeneratedPassword,
            },
        )
        .await
        .unwrap();
        store::repo::organizations::operator_scope(self.core.db(), &created.organization.uid)
            .await
            .unwrap()
    }
}

pub fn idp() -> Actor {
    Actor::new(ActorKind::ApiToken("tok_1".into())).in_request(Some("req-1".into()), None)
}

pub async fn all_events(db: &Database, scope: &OrgScope) -> Vec<events::Event> {
    events::list_after(db, scope, EventId(0), 10_000)
        .await
        .unwrap()
}

pub fn kinds(events: &[events::Event]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

pub async fn scim_user(world: &World, actor: &Actor, user_name: &str, email: &str) -> Value {
    let settings = scim_settings();
    let ctx = world_ctx(world, actor, &settings);
    users::create(
        ctx,
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name,
            "emails": [{"value": email, "primary": true}], "active": true}),
    )
    .await
    .unwrap()
}

/// Another organization in the same region.
pub async fn other_org(core: &Core, name: &str, owner_email: &str) -> OrgScope {
    let created = usecases::organizations::create(
        core,
        &Actor::operator(),
        NewOrganization {
            name: name.into(),
            owner_email: owner_email.into(),
            owner_access: OwnerAccess::GeneratedPassword,
        },
    )
    .await
    .unwrap();
    store::repo::organizations::operator_scope(core.db(), &created.organization.uid)
        .await
        .unwrap()
}

/// A SCIM user in `scope` (not the world's organization).
pub async fn scim_user_in(core: &Core, scope: &OrgScope, user_name: &str, email: &str) -> Value {
    let settings = scim_settings();
    let actor = idp();
    let ctx = Ctx {
        core,
        scope,
        actor: &actor,
        settings: &settings,
        base_url: "http://scim.test",
    };
    users::create(
        ctx,
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name,
            "emails": [{"value": email, "primary": true}], "active": true}),
    )
    .await
    .unwrap()
}

/// Runs the sequencer until nothing waits.
pub async fn sequence_all(core: &Core) -> i64 {
    let mut head = 0;
    for _ in 0..100 {
        let done = usecases::feed::sequence(core, 1000, chrono::Utc::now(), None)
            .await
            .unwrap();
        head = done.last_position;
        if done.events == 0 {
            return head;
        }
    }
    head
}

/// Every event after `cursor` (following pages), and the cursor after them.
pub async fn follow(
    core: &Core,
    cursor: Option<usecases::feed::Cursor>,
    query: usecases::feed::FeedQuery,
) -> (Vec<Value>, usecases::feed::Cursor) {
    let mut out = Vec::new();
    let mut cursor = cursor;
    for _ in 0..1000 {
        let page = usecases::feed::page(
            core,
            &usecases::feed::FeedQuery {
                after: cursor.clone(),
                ..query.clone()
            },
        )
        .await
        .unwrap()
        .unwrap_or_else(|expired| panic!("cursor expired: {expired:?}"));
        let empty = page.events.is_empty();
        out.extend(page.events);
        cursor = Some(page.next);
        if empty {
            break;
        }
    }
    (out, cursor.unwrap_or_default())
}
