//! `loadtest generate`: fills a migrated scimgate PostgreSQL database with many organizations
//! and millions of users in minutes, by `COPY` instead of HTTP (issue 18's "many organizations"
//! data set). The organizations a benchmark measures are created beforehand with their tokens
//! (`scimgate admin create-org`, `enable-scim`, `create-token`) and named with `--measured-org`;
//! the generator gives them users named as `create-users` would, creates the other
//! organizations, and shares the remaining users among those.
//!
//! Every row is the one the application writes for a provisioned user or group (see `rows.rs`):
//! the account, the invited membership, the user with its resource and search document, its
//! email rows; groups with their member rows. The database keeps its per-organization counts
//! itself (statement triggers fire on `COPY` too). Not written: the change feed's events, audit
//! rows and invitation rows of those creations — history no SCIM request reads.
//!
//! The secondary indexes and constraints are dropped for the load and rebuilt from their catalog
//! definitions afterwards (`schema.rs`), then everything is vacuumed and analyzed, as many steps
//! at once as may run (`restore.rs`). The database is the generator's: if it fails, drop the
//! database and start again.

mod copy_text;
mod load;
mod plan;
mod restore;
mod rows;
mod schema;

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use sqlx::{Connection, PgConnection};
use store::Conn;
use store::db::PoolSettings;
use store::repo::{new_uid, organizations, role_catalog};

use plan::{FirstIds, MeasuredOrg, Plan, Shape};
use rows::Table;

/// Users of the organizations the generator creates are `gen{k}-{i}`: a measured
/// organization's prefix may not start so, or two users would share an email (and an account).
const CREATED_PREFIX: &str = "gen";

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// The database: PostgreSQL, migrated (`scimgate migrate`), with no SCIM users or groups.
    #[arg(long, env = "LOADTEST_DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// Organizations to fill, the measured ones included (the others are created).
    #[arg(long)]
    orgs: u64,
    /// SCIM users in all, the measured organizations' included; the created organizations share
    /// the rest evenly.
    #[arg(long)]
    users: u64,
    /// `UID:PREFIX:USERS`: an organization that exists (with its token) and gets USERS users,
    /// `PREFIX0`, `PREFIX1`, … as `create-users --prefix PREFIX` creates them. Repeatable.
    #[arg(long = "measured-org", value_parser = parse_measured_org)]
    measured_orgs: Vec<MeasuredOrg>,
    /// Groups in every organization.
    #[arg(long, default_value_t = 10)]
    groups_per_org: u64,
    /// Members of every group (at most the organization's users).
    #[arg(long, default_value_t = 20)]
    members_per_group: u64,
    /// Home region of the created organizations (default: the measured ones', else "local").
    #[arg(long)]
    region: Option<String>,
    /// Producer threads, and connections building indexes (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Keep the indexes and constraints during the load (slower; for comparison).
    #[arg(long)]
    keep_indexes: bool,
}

fn parse_measured_org(value: &str) -> Result<MeasuredOrg, String> {
    let mut parts = value.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(uid), Some(prefix), Some(users)) if !uid.is_empty() && !prefix.is_empty() => {
            Ok(MeasuredOrg {
                uid: uid.to_owned(),
                prefix: prefix.to_owned(),
                users: users
                    .parse()
                    .map_err(|e| format!("USERS in `{value}`: {e}"))?,
            })
        }
        _ => Err(format!("`{value}` is not UID:PREFIX:USERS")),
    }
}

/// The tables whose indexes and constraints are deferred: all the generator writes but
/// `organizations`, which gets a few thousand rows.
fn deferred_tables() -> Vec<&'static str> {
    Table::ALL
        .into_iter()
        .filter(|t| *t != Table::Organizations)
        .map(Table::name)
        .collect()
}

/// The organizations' shape: measured ones looked up, the rest to create.
async fn shape(args: &GenerateArgs, db: &store::Database) -> anyhow::Result<(Shape, String)> {
    let mut measured = Vec::new();
    let mut region = args.region.clone();
    for org in &args.measured_orgs {
        ensure!(
            !org.prefix.starts_with(CREATED_PREFIX),
            "prefix {}: names starting with {CREATED_PREFIX:?} are the created organizations'",
            org.prefix
        );
        ensure!(
            measured.iter().all(|(_, p, _)| *p != org.prefix),
            "prefix {} is given twice: two users would share an email",
            org.prefix
        );
        let row = organizations::find_by_uid(db, &org.uid)
            .await?
            .with_context(|| format!("no organization {}", org.uid))?;
        region.get_or_insert(row.home_region);
        measured.push((row.id.0, org.prefix.clone(), org.users));
    }
    let measured_users: u64 = measured.iter().map(|(_, _, n)| n).sum();
    let new_orgs = args
        .orgs
        .checked_sub(measured.len() as u64)
        .context("--orgs counts the measured organizations too")?;
    let new_org_users = args
        .users
        .checked_sub(measured_users)
        .context("--users counts the measured organizations' users too")?;
    if new_orgs == 0 && new_org_users > 0 {
        bail!("{new_org_users} users left over and no organization to put them in");
    }
    let shape = Shape {
        measured,
        new_orgs,
        new_org_users,
        groups_per_org: args.groups_per_org,
        members_per_group: args.members_per_group,
    };
    Ok((shape, region.unwrap_or_else(|| "local".to_owned())))
}

/// The plan: the organizations' shape, the id ranges reserved, the provisioning role.
async fn plan(
    args: &GenerateArgs,
    db: &store::Database,
    control: &mut PgConnection,
) -> anyhow::Result<Plan> {
    let (shape, region) = shape(args, db).await?;
    let needed = shape.ids_needed();
    let first = FirstIds {
        organization: schema::reserve_ids(control, "organizations", needed.organizations).await?,
        account: schema::reserve_ids(control, "accounts", needed.accounts).await?,
        membership: schema::reserve_ids(control, "org_memberships", needed.memberships).await?,
        user: schema::reserve_ids(control, "scim_users", needed.users).await?,
        group: schema::reserve_ids(control, "scim_groups", needed.groups).await?,
    };
    let member_role = role_catalog::load(db).await?.base_org_role();
    Ok(shape.plan(first, region, member_role, new_uid))
}

/// Puts back what was deferred (if anything) and vacuums every written table; returns how many
/// indexes and foreign keys were rebuilt.
async fn rebuild(
    url: &str,
    control: &mut PgConnection,
    deferred: Option<schema::Deferred>,
    jobs: usize,
) -> anyhow::Result<(usize, usize)> {
    let sizes: Vec<(String, i64)> =
        sqlx::query_as("SELECT relname::text, pg_relation_size(oid) FROM pg_class")
            .fetch_all(&mut *control)
            .await?;
    let table_bytes = |table: &str| {
        sizes
            .iter()
            .find(|(name, _)| name == table)
            .map_or(0, |(_, bytes)| *bytes)
    };
    let (counts, steps) = match deferred {
        Some(deferred) => {
            deferred.add_foreign_keys_unvalidated(control).await?;
            (deferred.counts(), deferred.steps(table_bytes))
        }
        None => ((0, 0), Vec::new()),
    };
    let written: Vec<&str> = Table::ALL.into_iter().map(Table::name).collect();
    restore::run(url, restore::with_vacuums(steps, &written), jobs).await?;
    Ok(counts)
}

pub async fn run(args: &GenerateArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let url = args.database_url.as_str();
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
    });
    let db = store::connect(url, &PoolSettings::default())
        .await
        .context("connecting")?;
    ensure!(db.is_postgres(), "the generator writes PostgreSQL only");
    let mut control = PgConnection::connect(url).await?;
    let empty: Vec<&str> = Table::ALL
        .into_iter()
        .filter(|t| t.starts_empty())
        .map(Table::name)
        .collect();
    schema::ensure_empty(&mut control, &empty).await?;
    let plan = Arc::new(plan(args, &db, &mut control).await?);
    eprintln!(
        "generating {} organizations, {} users, {} groups per organization of {} members",
        plan.orgs.len(),
        plan.total_users,
        plan.groups_per_org,
        plan.members_per_group
    );

    let tables = deferred_tables();
    let schema_before = schema::catalog(&mut control, &tables).await?;
    let deferred = if args.keep_indexes {
        None
    } else {
        Some(schema::defer(&mut control, &tables).await?)
    };
    let load_started = Instant::now();
    let rows = load::load(url, plan.clone(), jobs).await?;
    let load_secs = load_started.elapsed().as_secs_f64();
    eprintln!("loaded in {load_secs:.1} s; rebuilding indexes and constraints");
    let rebuild_started = Instant::now();
    let rebuilt = rebuild(url, &mut control, deferred, jobs).await?;
    let rebuild_secs = rebuild_started.elapsed().as_secs_f64();
    let schema_after = schema::catalog(&mut control, &tables).await?;
    ensure!(
        schema_before == schema_after,
        "the schema differs after the load: before {:?}, after {:?}",
        schema_before.difference(&schema_after).collect::<Vec<_>>(),
        schema_after.difference(&schema_before).collect::<Vec<_>>()
    );
    let (bytes,): (i64,) = sqlx::query_as("SELECT pg_database_size(current_database())")
        .fetch_one(&mut control)
        .await?;
    Report {
        plan: &plan,
        rows,
        rebuilt,
        jobs,
        load_secs,
        rebuild_secs,
        total_secs: started.elapsed().as_secs_f64(),
        bytes,
    }
    .print();
    Ok(())
}

/// What the generator prints on stdout when done.
struct Report<'a> {
    plan: &'a Plan,
    rows: load::RowCounts,
    /// Indexes and foreign keys rebuilt.
    rebuilt: (usize, usize),
    jobs: usize,
    load_secs: f64,
    rebuild_secs: f64,
    total_secs: f64,
    bytes: i64,
}

impl Report<'_> {
    fn print(&self) {
        let Self { plan, jobs, .. } = *self;
        for (table, count) in Table::ALL.into_iter().zip(self.rows) {
            println!("{:<28} {count:>12} rows", table.name());
        }
        // One to look at (or to measure) among the created organizations: create a token for it.
        let created: Vec<&str> = plan
            .orgs
            .iter()
            .filter_map(|org| org.new.as_ref().map(|new| new.uid.as_str()))
            .collect();
        if let (Some(first), Some(last)) = (created.first(), created.last()) {
            println!(
                "created organizations        {:>10}   first {first}, last {last}",
                created.len()
            );
        }
        let per_sec = |n: u64, secs: f64| n as f64 / secs.max(f64::EPSILON);
        let rows: u64 = self.rows.iter().sum();
        println!(
            "load (COPY)                  {:>10.1} s   {:.0} rows/s, {:.0} users/s, {jobs} producers",
            self.load_secs,
            per_sec(rows, self.load_secs),
            per_sec(plan.total_users, self.load_secs)
        );
        let (indexes, foreign_keys) = self.rebuilt;
        println!(
            "indexes, keys, vacuum        {:>10.1} s   {indexes} indexes built, {foreign_keys} foreign keys validated, {} tables vacuumed and analyzed on {jobs} connections",
            self.rebuild_secs,
            Table::ALL.len()
        );
        println!(
            "total                        {:>10.1} s   {:.0} users/s",
            self.total_secs,
            per_sec(plan.total_users, self.total_secs)
        );
        println!(
            "database size                {:>10.2} GiB",
            self.bytes as f64 / f64::from(1 << 30)
        );
    }
}
