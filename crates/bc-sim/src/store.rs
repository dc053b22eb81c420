//! The data store: generated base records plus an overlay of changes.
//!
//! Reads derive a record from the generator and apply its overlay entry (if
//! any). The overlay holds created, updated and deleted records per
//! (environment, company, entity set) keyed by position, and line edits per
//! document. Nothing else is kept in memory, so the size of the tenant is
//! bounded only by `u32` positions.
//!
//! Every write reports a [`Change`] to the listener (the webhooks), so that
//! notifications originate where records change, whatever the path.

use crate::clock::Clock;
use crate::datagen::{self, Ctx, put};
use crate::schema::{EntityType, Kind, Schema};
use crate::value::{Record, Val};
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock, RwLock};
use uuid::Uuid;

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Inserted.
    Created,
    /// Modified (a line edit is reported as a modification of its document).
    Updated,
    /// Deleted.
    Deleted,
}

/// One record change, as reported to the store's listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// Environment index.
    pub env: u8,
    /// Company index.
    pub company: u8,
    /// Entity set (`customApi` for the custom page).
    pub set: &'static str,
    /// The record's id.
    pub id: Uuid,
    /// What happened.
    pub kind: ChangeKind,
    /// When, on the emulator's clock (ms).
    pub at_ms: i64,
}

/// Receives every [`Change`].
pub type Listener = Box<dyn Fn(&Change) + Send + Sync>;

struct ListenerSlot(OnceLock<Listener>);

impl std::fmt::Debug for ListenerSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Listener(set)"
        } else {
            "Listener(none)"
        })
    }
}

/// One overlay entry.
#[derive(Debug, Clone)]
pub enum Entry {
    /// Created or updated: field patches on top of the generated record.
    Live {
        /// (property index, value) patches.
        patch: Vec<(usize, Val)>,
        /// New `lastModifiedDateTime`.
        lmd: i64,
        /// Row version (etag).
        version: u64,
    },
    /// Deleted.
    Deleted,
}

#[derive(Debug, Default)]
struct SetOverlay {
    entries: BTreeMap<u64, Entry>,
    created: u64,
}

type Key = (u8, u8, &'static str);
type LineKey = (u8, u8, &'static str, u64);
/// Line edits of one document: line index → (patches, line version).
type LineEdits = BTreeMap<u64, (Vec<(usize, Val)>, u64)>;

impl Entry {
    /// A record's first overlay entry.
    fn fresh(patch: Vec<(usize, Val)>, lmd: i64) -> Entry {
        Entry::Live {
            patch,
            lmd,
            version: 1,
        }
    }
}

/// Store of all environments and companies.
#[derive(Debug)]
pub struct Store {
    overlays: RwLock<HashMap<Key, SetOverlay>>,
    lines: RwLock<HashMap<LineKey, LineEdits>>,
    clock: Arc<Clock>,
    custom: Option<&'static EntityType>,
    /// Attachment contents uploaded through the control API, by position.
    files: RwLock<HashMap<(u8, u8, u64), Vec<u8>>>,
    listener: ListenerSlot,
}

/// Errors of overlay writes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such record.
    #[error("record {0} not found")]
    NotFound(Uuid),
    /// Unknown property in a patch.
    #[error("could not find a property named '{prop}' on type 'Microsoft.NAV.{ty}'")]
    UnknownProperty {
        /// Property name.
        prop: String,
        /// Entity type name.
        ty: String,
    },
    /// Value does not fit the property type.
    #[error("invalid value for property '{0}'")]
    BadValue(String),
}

impl Store {
    /// A store on `clock`; `custom` is the custom API page type, if configured.
    pub fn new(custom: Option<&'static EntityType>, clock: Arc<Clock>) -> Store {
        Store {
            overlays: RwLock::default(),
            lines: RwLock::default(),
            clock,
            custom,
            files: RwLock::default(),
            listener: ListenerSlot(OnceLock::new()),
        }
    }

    /// Sets the receiver of every [`Change`] (once; later calls are ignored).
    pub fn set_listener(&self, f: Listener) {
        let _ = self.listener.0.set(f);
    }

    fn changed(&self, ctx: &Ctx, set: &'static str, pos: u64, kind: ChangeKind, at_ms: i64) {
        if let Some(f) = self.listener.0.get() {
            let code = datagen::set_code(set).unwrap_or(0);
            f(&Change {
                env: ctx.env,
                company: ctx.company,
                set,
                id: ctx.id(code, pos, 0),
                kind,
                at_ms,
            });
        }
    }

    /// The entity type of a served set (`customApi` is the custom page).
    pub fn ty(&self, set: &str) -> Option<&'static EntityType> {
        if set == "customApi" {
            return self.custom;
        }
        Schema::get().by_set(set)
    }

    /// A strictly increasing "now" in ms on the emulator's clock: BC's
    /// lastModifiedDateTime moves on every change, and two changes in one
    /// millisecond must still order.
    pub fn tick(&self) -> i64 {
        self.clock.tick()
    }

    /// Upper bound (exclusive) of positions in a set.
    pub fn end(&self, ctx: &Ctx, set: &'static str) -> u64 {
        let base = ctx.base_count(set);
        let ov = self.overlays.read().unwrap_or_else(|e| e.into_inner());
        base + ov
            .get(&(ctx.env, ctx.company, set))
            .map_or(0, |o| o.created)
    }

    /// Positions of live overlay entries at or after `from` (for incremental reads).
    pub fn overlay_positions(&self, ctx: &Ctx, set: &'static str, from: u64) -> Vec<u64> {
        let ov = self.overlays.read().unwrap_or_else(|e| e.into_inner());
        ov.get(&(ctx.env, ctx.company, set))
            .map(|o| {
                o.entries
                    .range(from..)
                    .filter(|(_, e)| matches!(e, Entry::Live { .. }))
                    .map(|(p, _)| *p)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Effective lines of document `pos`.
    pub fn lines(&self, ctx: &Ctx, doc_set: &'static str, pos: u64) -> Vec<Record> {
        let n = ctx.line_count(doc_set, pos);
        let mut lines: Vec<Record> = (0..n).map(|i| ctx.line(doc_set, pos, i)).collect();
        let lk = self.lines.read().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = lk.get(&(ctx.env, ctx.company, doc_set, pos)) {
            let lt = self
                .ty(datagen::line_set(doc_set).unwrap_or("salesInvoiceLines"))
                .expect("line type");
            for (seq, (patch, version)) in m {
                if let Some(l) = lines.get_mut(*seq as usize) {
                    for (i, v) in patch {
                        l.vals[*i] = v.clone();
                    }
                    l.version = *version;
                    ctx.reprice_line(lt, l);
                }
            }
        }
        lines
    }

    /// The record at `pos`, or `None` if deleted / never created.
    pub fn get(&self, ctx: &Ctx, set: &'static str, pos: u64) -> Option<Record> {
        self.get_full(ctx, set, pos).map(|(r, _)| r)
    }

    /// The record at `pos` with its effective lines (empty for non-documents):
    /// the header totals need the lines anyway, so `$expand` reuses them.
    pub fn get_full(
        &self,
        ctx: &Ctx,
        set: &'static str,
        pos: u64,
    ) -> Option<(Record, Vec<Record>)> {
        let entry = {
            let ov = self.overlays.read().unwrap_or_else(|e| e.into_inner());
            ov.get(&(ctx.env, ctx.company, set))
                .and_then(|o| o.entries.get(&pos).cloned())
        };
        if matches!(entry, Some(Entry::Deleted)) || (entry.is_none() && pos >= ctx.base_count(set))
        {
            return None;
        }
        let mut lines = Vec::new();
        let mut rec = if set == "customApi" {
            self.custom_record(ctx, pos)?
        } else if datagen::line_set(set).is_some() {
            lines = self.lines(ctx, set, pos);
            ctx.record(set, pos, &lines)?
        } else {
            ctx.record(set, pos, &[])?
        };
        if let Some(Entry::Live {
            patch,
            lmd,
            version,
        }) = entry
        {
            let t = self.ty(set)?;
            for (i, v) in patch {
                rec.vals[i] = v;
            }
            put(&mut rec, t, "lastModifiedDateTime", Val::Dt(lmd));
            rec.version = version;
        }
        Some((rec, lines))
    }

    fn custom_record(&self, ctx: &Ctx, pos: u64) -> Option<Record> {
        let t = self.custom?;
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(
            ctx.seed ^ pos.wrapping_mul(0x9e37_79b9) ^ u64::from(ctx.company) << 40,
        );
        let mut rec = Record::blank(t);
        let code = datagen::set_code("customApi")?;
        for (i, p) in t.props.iter().enumerate() {
            rec.vals[i] = match (p.name, p.kind) {
                ("id", _) => Val::Guid(ctx.id(code, pos, 0)),
                ("lastModifiedDateTime", _) => Val::Dt(
                    r.gen_range(datagen::BASE_MIN_LAST_MODIFIED..=datagen::BASE_MAX_LAST_MODIFIED),
                ),
                (_, Kind::String) => Val::Str(format!(
                    "{}-{:05} {}",
                    p.name,
                    pos + 1,
                    crate::words::LAST[pos as usize % crate::words::LAST.len()]
                )),
                (_, Kind::Decimal) => Val::Dec(f64::from(r.gen_range(0..100_000u32)) / 100.0),
                (_, Kind::Int32 | Kind::Int64) => Val::Int(r.gen_range(0..10_000)),
                (_, Kind::Boolean) => Val::Bool(r.gen_bool(0.8)),
                (_, Kind::Date) => Val::Date(
                    chrono::NaiveDate::from_ymd_opt(
                        2024,
                        1 + (pos % 12) as u32,
                        1 + (pos % 28) as u32,
                    )
                    .unwrap_or_default(),
                ),
                (_, k) => crate::value::default_for(k),
            };
        }
        Some(rec)
    }

    /// Converts JSON fields into property patches (BC types enforced).
    pub fn patch_from_json(
        t: &EntityType,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Vec<(usize, Val)>, StoreError> {
        let mut out = Vec::new();
        for (k, v) in fields {
            if k == "id" || k == "lastModifiedDateTime" || k.starts_with('@') {
                continue;
            }
            let i = t.idx(k).ok_or_else(|| StoreError::UnknownProperty {
                prop: k.clone(),
                ty: t.name.into(),
            })?;
            let p = &t.props[i];
            let bad = || StoreError::BadValue(k.clone());
            let val = match p.kind {
                Kind::String => Val::Str(
                    v.as_str()
                        .ok_or_else(bad)?
                        .chars()
                        .take(p.max_len.unwrap_or(usize::MAX))
                        .collect(),
                ),
                Kind::Decimal => Val::Dec(v.as_f64().ok_or_else(bad)?),
                Kind::Int32 | Kind::Int64 => Val::Int(v.as_i64().ok_or_else(bad)?),
                Kind::Boolean => Val::Bool(v.as_bool().ok_or_else(bad)?),
                Kind::Guid => Val::Guid(v.as_str().and_then(|s| s.parse().ok()).ok_or_else(bad)?),
                Kind::Date => Val::Date(v.as_str().and_then(|s| s.parse().ok()).ok_or_else(bad)?),
                Kind::DateTime => Val::Dt(
                    v.as_str()
                        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                        .ok_or_else(bad)?
                        .timestamp_millis(),
                ),
                Kind::Enum(_) => {
                    let s = v.as_str().ok_or_else(bad)?;
                    let members = Schema::get().enum_members(p.kind).unwrap_or(&[]);
                    Val::Enum(
                        members
                            .iter()
                            .find(|m| **m == s || m.replace("_x0020_", " ") == s)
                            .copied()
                            .ok_or_else(bad)?,
                    )
                }
                Kind::Stream => return Err(bad()),
            };
            out.push((i, val));
        }
        Ok(out)
    }

    /// Creates a record; returns its position.
    pub fn create(&self, ctx: &Ctx, set: &'static str, patch: Vec<(usize, Val)>) -> u64 {
        let lmd = self.tick();
        let pos = {
            let mut ov = self.overlays.write().unwrap_or_else(|e| e.into_inner());
            let o = ov.entry((ctx.env, ctx.company, set)).or_default();
            let pos = ctx.base_count(set) + o.created;
            o.created += 1;
            o.entries.insert(pos, Entry::fresh(patch, lmd));
            pos
        };
        self.changed(ctx, set, pos, ChangeKind::Created, lmd);
        pos
    }

    /// Updates a record (moves lastModifiedDateTime, bumps the etag).
    pub fn update(&self, ctx: &Ctx, set: &'static str, pos: u64, patch: Vec<(usize, Val)>) -> bool {
        if self.get(ctx, set, pos).is_none() {
            return false;
        }
        let lmd = self.tick();
        self.patch_overlay(ctx, set, pos, patch, lmd);
        self.changed(ctx, set, pos, ChangeKind::Updated, lmd);
        true
    }

    fn patch_overlay(
        &self,
        ctx: &Ctx,
        set: &'static str,
        pos: u64,
        patch: Vec<(usize, Val)>,
        lmd: i64,
    ) {
        let mut ov = self.overlays.write().unwrap_or_else(|e| e.into_inner());
        let o = ov.entry((ctx.env, ctx.company, set)).or_default();
        match o.entries.get_mut(&pos) {
            Some(Entry::Live {
                patch: old,
                lmd: l,
                version,
            }) => {
                for (i, v) in patch {
                    old.retain(|(j, _)| *j != i);
                    old.push((i, v));
                }
                *l = lmd;
                *version += 1;
            }
            _ => {
                o.entries.insert(pos, Entry::fresh(patch, lmd));
            }
        }
    }

    /// The content of attachment `pos`: uploaded, or generated.
    pub fn file(&self, ctx: &Ctx, pos: u64) -> Vec<u8> {
        let files = self.files.read().unwrap_or_else(|e| e.into_inner());
        files
            .get(&(ctx.env, ctx.company, pos))
            .cloned()
            .unwrap_or_else(|| crate::attachments::content(ctx, pos))
    }

    /// Replaces the content of attachment `pos` (its byteSize and
    /// lastModifiedDateTime follow, as in BC).
    pub fn set_file(&self, ctx: &Ctx, pos: u64, bytes: Vec<u8>) -> bool {
        let Some(t) = self.ty("documentAttachments") else {
            return false;
        };
        let Some(size) = t.idx("byteSize") else {
            return false;
        };
        let len = bytes.len() as i64;
        self.files
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((ctx.env, ctx.company, pos), bytes);
        self.update(ctx, "documentAttachments", pos, vec![(size, Val::Int(len))])
    }

    /// Deletes a record.
    pub fn delete(&self, ctx: &Ctx, set: &'static str, pos: u64) -> bool {
        if self.get(ctx, set, pos).is_none() {
            return false;
        }
        self.overlays
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry((ctx.env, ctx.company, set))
            .or_default()
            .entries
            .insert(pos, Entry::Deleted);
        self.changed(ctx, set, pos, ChangeKind::Deleted, self.clock.now_ms());
        true
    }

    /// Edits one line of a document WITHOUT touching the header's
    /// lastModifiedDateTime (real BC behaviour: line edits do not move it);
    /// webhooks still hear of it as a change of the header, as in BC.
    pub fn edit_line(
        &self,
        ctx: &Ctx,
        doc_set: &'static str,
        pos: u64,
        seq_idx: u64,
        patch: Vec<(usize, Val)>,
    ) -> bool {
        if self.get(ctx, doc_set, pos).is_none() || seq_idx >= ctx.line_count(doc_set, pos) {
            return false;
        }
        {
            let mut lk = self.lines.write().unwrap_or_else(|e| e.into_inner());
            let e = lk
                .entry((ctx.env, ctx.company, doc_set, pos))
                .or_default()
                .entry(seq_idx)
                .or_insert((Vec::new(), 0));
            for (i, v) in patch {
                e.0.retain(|(j, _)| *j != i);
                e.0.push((i, v));
            }
            e.1 += 1;
        }
        self.changed(ctx, doc_set, pos, ChangeKind::Updated, self.clock.now_ms());
        true
    }
}

/// Re-export for callers that build positions from ids.
pub fn position_of(ctx: &Ctx, set: &str, id: &Uuid) -> Option<u64> {
    let code = datagen::set_code(set)?;
    match ctx.decode(id) {
        Some((c, pos, 0)) if c == code => Some(pos),
        _ => None,
    }
}
