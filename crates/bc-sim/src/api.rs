//! The BC API v2.0 surface: entity sets, single entities, navigation
//! (lines, pdfDocument, customer/vendor), media streams, `$metadata`, and
//! server-driven paging.

use crate::datagen::{self, BASE_MAX_LAST_MODIFIED, Ctx};
use crate::error::BcError;
use crate::filter::{self, Expr};
use crate::query::{self, Options};
use crate::schema::{EntityType, Kind};
use crate::server::Shared;
use crate::store::position_of;
use crate::value::{Record, Val, etag, write_str, write_val};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use std::cmp::Ordering;
use uuid::Uuid;

/// What a request addressed, after the API root.
pub struct ApiRequest<'a> {
    /// Environment index.
    pub env: usize,
    /// Absolute URL of the API root as requested (links are built from it).
    pub root: String,
    /// Path segments after the root.
    pub segments: Vec<&'a str>,
    /// Raw query string.
    pub raw_query: &'a str,
    /// `Prefer: odata.maxpagesize=N`, if sent.
    pub max_page: Option<usize>,
    /// Whether this is the custom API root.
    pub custom: bool,
}

/// A response plus the number of entities in it (for per-record latency).
pub struct ApiResponse {
    /// The HTTP response.
    pub response: Response,
    /// Entities returned.
    pub records: usize,
}

pub(crate) fn seg(s: &str) -> Result<(&str, Option<&str>), BcError> {
    match s.find('(') {
        Some(i) if s.ends_with(')') => Ok((&s[..i], Some(&s[i + 1..s.len() - 1]))),
        Some(_) => Err(BcError::BadRequest(format!(
            "Bad Request - Error in query syntax at segment '{s}'"
        ))),
        None => Ok((s, None)),
    }
}

fn parse_key(k: &str) -> Option<Uuid> {
    Uuid::parse_str(k.trim_matches('\'')).ok()
}

pub(crate) fn not_found_segment(s: &str) -> BcError {
    BcError::NotFound {
        code: "BadRequest_NotFound",
        message: format!("Resource not found for the segment '{s}'"),
    }
}

fn record_not_found(ty: &EntityType) -> BcError {
    BcError::NotFound {
        code: "Internal_RecordNotFound",
        message: format!(
            "The {} does not exist. Identification fields and values: Id",
            ty.name
        ),
    }
}

pub(crate) fn json(body: Vec<u8>, pref: Option<usize>) -> Response {
    json_body(axum::body::Body::from(body), pref)
}

fn json_body(body: axum::body::Body, pref: Option<usize>) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; odata.metadata=minimal; odata.streaming=true"),
    );
    h.insert("OData-Version", HeaderValue::from_static("4.0"));
    if let Some(n) = pref
        && let Ok(v) = HeaderValue::from_str(&format!("odata.maxpagesize={n}"))
    {
        h.insert("Preference-Applied", v);
    }
    r
}

fn bad(e: impl std::fmt::Display) -> BcError {
    BcError::BadRequest(e.to_string())
}

/// Serves one BC API request (runs on a blocking thread: pages are CPU work).
pub fn handle(sh: &Shared, req: ApiRequest<'_>) -> Result<ApiResponse, BcError> {
    let opts = query::parse(req.raw_query).map_err(bad)?;
    let segs: Vec<(&str, Option<&str>)> = req
        .segments
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| seg(s))
        .collect::<Result<_, _>>()?;
    let env = &sh.envs[req.env];
    match segs.as_slice() {
        [] => {
            let mut v: Vec<serde_json::Value> = vec![
                serde_json::json!({"name": "companies", "kind": "EntitySet", "url": "companies"}),
            ];
            for t in &crate::schema::Schema::get().types {
                if t.set != "companies" && !t.set.ends_with("Lines") && t.set != "pdfDocument" {
                    v.push(serde_json::json!({"name": t.set, "kind": "EntitySet", "url": t.set}));
                }
            }
            let body = serde_json::json!({"@odata.context": format!("{}/$metadata", req.root), "value": v});
            Ok(ApiResponse {
                response: json(body.to_string().into_bytes(), None),
                records: 0,
            })
        }
        [("$metadata", None)] => {
            let custom = if req.custom {
                sh.cfg.custom_api.as_ref()
            } else {
                None
            };
            let mut r = (StatusCode::OK, crate::schema::metadata_xml(custom)).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            Ok(ApiResponse {
                response: r,
                records: 0,
            })
        }
        [("companies", key)] => {
            let ty = crate::schema::Schema::get().ty("company");
            let recs: Vec<(u64, Record)> = env
                .companies
                .iter()
                .enumerate()
                .map(|(i, id)| (i as u64, sh.company_record(req.env, i, *id)))
                .collect();
            match key {
                None => {
                    let ctx_url = format!("{}/$metadata#companies", req.root);
                    let src = Source::Mem(recs);
                    collection(sh, None, "companies", ty, src, &opts, &req, &ctx_url, None)
                }
                Some(k) => {
                    let id = parse_key(k).ok_or_else(|| bad(format!("Invalid key '{k}'")))?;
                    let (_, rec) = recs
                        .into_iter()
                        .find(|(_, r)| r.vals[0] == Val::Guid(id))
                        .ok_or_else(company_not_found)?;
                    let mut out = Vec::with_capacity(1024);
                    out.extend_from_slice(b"{\"@odata.context\":");
                    write_str(
                        &mut out,
                        &format!("{}/$metadata#companies/$entity", req.root),
                    );
                    out.push(b',');
                    write_entity_body(&mut out, ty, &rec, &None);
                    out.push(b'}');
                    Ok(ApiResponse {
                        response: json(out, None),
                        records: 1,
                    })
                }
            }
        }
        [("companies", Some(ck)), rest @ ..] if !rest.is_empty() => {
            let cid = parse_key(ck).ok_or_else(company_not_found)?;
            let ci = env
                .companies
                .iter()
                .position(|c| *c == cid)
                .ok_or_else(company_not_found)?;
            let ctx = sh.ctx(req.env, ci);
            let croot = format!("{}/companies({})", req.root, cid);
            company_scoped(sh, &ctx, &req, &opts, &croot, rest)
        }
        [(s, _), ..] => Err(not_found_segment(s)),
    }
}

pub(crate) fn company_not_found() -> BcError {
    BcError::NotFound {
        code: "BadRequest_ResourceNotFound",
        message: "Resource not found for the segment 'companies'".into(),
    }
}

fn resolve_set(
    sh: &Shared,
    req: &ApiRequest<'_>,
    name: &str,
) -> Result<(&'static str, &'static EntityType), BcError> {
    if req.custom {
        let c = sh
            .cfg
            .custom_api
            .as_ref()
            .ok_or_else(|| not_found_segment(name))?;
        if c.entity_set == name {
            return Ok((
                "customApi",
                sh.store
                    .ty("customApi")
                    .ok_or_else(|| not_found_segment(name))?,
            ));
        }
        return Err(not_found_segment(name));
    }
    let set = datagen::SETS
        .iter()
        .find(|s| **s == name && datagen::is_top_level(s));
    match set {
        Some(s) => Ok((s, sh.store.ty(s).ok_or_else(|| not_found_segment(name))?)),
        None => Err(not_found_segment(name)),
    }
}

fn company_scoped(
    sh: &Shared,
    ctx: &Ctx,
    req: &ApiRequest<'_>,
    opts: &Options,
    croot: &str,
    rest: &[(&str, Option<&str>)],
) -> Result<ApiResponse, BcError> {
    let (set_name, key) = rest[0];
    let (set, ty) = resolve_set(sh, req, set_name)?;
    let ctx_base = format!(
        "{}/$metadata#companies({})/{}",
        req.root,
        croot.rsplit('(').next().unwrap_or("").trim_end_matches(')'),
        set_name
    );
    let Some(k) = key else {
        if rest.len() == 2 && rest[1] == ("$count", None) {
            // `{set}/$count`: the number of records under the `$filter`,
            // as plain text (OData's count segment).
            let filt = parse_filter(ty, &opts.filter)?;
            let n = count_matches(sh, ctx, set, filt.as_ref());
            let mut response = n.to_string().into_response();
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            return Ok(ApiResponse {
                response,
                records: 0,
            });
        }
        if rest.len() > 1 {
            return Err(not_found_segment(rest[1].0));
        }
        return collection(
            sh,
            Some(ctx),
            set,
            ty,
            Source::Store,
            opts,
            req,
            &ctx_base,
            Some(croot),
        );
    };
    let id = parse_key(k).ok_or_else(|| bad(format!("Invalid key '{k}'")))?;
    let pos = position_of(ctx, set, &id).ok_or_else(|| record_not_found(ty))?;
    let (rec, doc_lines) = sh
        .store
        .get_full(ctx, set, pos)
        .ok_or_else(|| record_not_found(ty))?;
    let eurl = format!("{croot}/{set_name}({id})");
    match &rest[1..] {
        [] => {
            let mut out = Vec::with_capacity(4096);
            out.extend_from_slice(b"{\"@odata.context\":");
            write_str(&mut out, &format!("{ctx_base}/$entity"));
            out.push(b',');
            let sel = select(ty, &opts.select)?;
            let exps = resolve_expands(sh, ty, &opts.expand)?;
            write_full(
                &mut out, sh, ctx, set, ty, &rec, &doc_lines, &sel, &exps, &eurl,
            );
            out.push(b'}');
            Ok(ApiResponse {
                response: json(out, None),
                records: 1,
            })
        }
        [("pdfDocument", None)] if has_pdf(set) => {
            let mut out = Vec::new();
            out.extend_from_slice(b"{\"@odata.context\":");
            write_str(&mut out, &format!("{ctx_base}({id})/pdfDocument/$entity"));
            out.push(b',');
            write_pdf_entity(&mut out, set, &id, &eurl);
            out.push(b'}');
            Ok(ApiResponse {
                response: json(out, None),
                records: 1,
            })
        }
        [("pdfDocument", None), ("pdfDocumentContent", None)]
        | [
            ("pdfDocument", None),
            ("pdfDocumentContent", None),
            ("$value", None),
        ] if has_pdf(set) => {
            let bytes = render_pdf(sh, ctx, set, ty, pos, &rec);
            let mut r = (StatusCode::OK, bytes).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            );
            Ok(ApiResponse {
                response: r,
                records: 1,
            })
        }
        [("attachmentContent", None)] if set == "documentAttachments" => {
            let name = ty
                .idx("fileName")
                .and_then(|i| match &rec.vals[i] {
                    crate::value::Val::Str(n) => Some(n.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            let mut r = (StatusCode::OK, sh.store.file(ctx, pos)).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(crate::attachments::mime_of(&name)),
            );
            Ok(ApiResponse {
                response: r,
                records: 1,
            })
        }
        [(nav, None)] if datagen::line_set(set) == Some(*nav) => {
            let nav: &'static str = datagen::line_set(set).unwrap_or("salesInvoiceLines");
            let lt = sh.store.ty(nav).ok_or_else(|| not_found_segment(nav))?;
            let lines: Vec<(u64, Record)> = doc_lines
                .into_iter()
                .enumerate()
                .map(|(i, r)| (i as u64, r))
                .collect();
            let cu = format!("{ctx_base}({id})/{nav}");
            collection(sh, None, nav, lt, Source::Mem(lines), opts, req, &cu, None)
        }
        [(s, _), ..] => Err(not_found_segment(s)),
    }
}

/// How many records of `set` match `filt` (a full scan).
fn count_matches(sh: &Shared, ctx: &Ctx, set: &'static str, filt: Option<&Expr>) -> usize {
    (0..sh.store.end(ctx, set))
        .filter_map(|p| sh.store.get(ctx, set, p))
        .filter(|r| filt.is_none_or(|f| filter::eval(f, r)))
        .count()
}

fn has_pdf(set: &str) -> bool {
    matches!(
        set,
        "salesInvoices"
            | "salesQuotes"
            | "salesCreditMemos"
            | "purchaseInvoices"
            | "purchaseCreditMemos"
    )
}

/// Where a collection's records come from.
enum Source {
    /// The store (generated + overlay), paged by position.
    Store,
    /// A small in-memory list (companies, lines of one document).
    Mem(Vec<(u64, Record)>),
}

fn select(ty: &EntityType, sel: &Option<Vec<String>>) -> Result<Option<Vec<usize>>, BcError> {
    match sel {
        None => Ok(None),
        Some(names) => names
            .iter()
            .filter(|n| *n != "*")
            .map(|n| {
                ty.idx(n).ok_or_else(|| {
                    bad(format!(
                        "Could not find a property named '{n}' on type '{}'.",
                        ty.qualified()
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
    }
}

fn parse_filter(ty: &EntityType, f: &Option<String>) -> Result<Option<Expr>, BcError> {
    f.as_deref()
        .map(|s| filter::parse(s, ty).map_err(bad))
        .transpose()
}

fn cmp_val(a: &Val, b: &Val) -> Ordering {
    match (a, b) {
        (Val::Dec(x), Val::Dec(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Val::Int(x), Val::Int(y)) => x.cmp(y),
        (Val::Dt(x), Val::Dt(y)) => x.cmp(y),
        (Val::Date(x), Val::Date(y)) => x.cmp(y),
        (Val::Guid(x), Val::Guid(y)) => x.cmp(y),
        (Val::Bool(x), Val::Bool(y)) => x.cmp(y),
        _ => a.as_str().unwrap_or("").cmp(b.as_str().unwrap_or("")),
    }
}

struct ResolvedExpand {
    name: String,
    kind: ExpandKind,
    sel: Option<Vec<usize>>,
    filter: Option<Expr>,
    top: Option<usize>,
    ty: Option<&'static EntityType>,
}

enum ExpandKind {
    Lines,
    Pdf,
    Party(&'static str),
}

fn resolve_expands(
    sh: &Shared,
    ty: &EntityType,
    exps: &[query::Expand],
) -> Result<Vec<ResolvedExpand>, BcError> {
    let mut out = Vec::new();
    for e in exps {
        let nav = ty.navs.iter().find(|n| n.name == e.name).ok_or_else(|| {
            bad(format!(
                "Could not find a property named '{}' on type '{}'.",
                e.name,
                ty.qualified()
            ))
        })?;
        let (kind, target) = if nav.collection && nav.name.ends_with("Lines") {
            (ExpandKind::Lines, sh.store.ty(nav.name))
        } else if nav.name == "pdfDocument" {
            (ExpandKind::Pdf, None)
        } else if nav.name == "customer" || nav.name == "vendor" {
            (
                ExpandKind::Party(if nav.name == "customer" {
                    "customers"
                } else {
                    "vendors"
                }),
                crate::schema::Schema::get().by_set(if nav.name == "customer" {
                    "customers"
                } else {
                    "vendors"
                }),
            )
        } else {
            return Err(bad(format!("Expanding '{}' is not supported.", e.name)));
        };
        let (sel, filter) = match target {
            Some(t) => (select(t, &e.opts.select)?, parse_filter(t, &e.opts.filter)?),
            None => (None, None),
        };
        out.push(ResolvedExpand {
            name: e.name.clone(),
            kind,
            sel,
            filter,
            top: e.opts.top,
            ty: target,
        });
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn collection(
    sh: &Shared,
    ctx: Option<&Ctx>,
    set: &'static str,
    ty: &'static EntityType,
    src: Source,
    opts: &Options,
    req: &ApiRequest<'_>,
    context_url: &str,
    croot: Option<&str>,
) -> Result<ApiResponse, BcError> {
    let filt = parse_filter(ty, &opts.filter)?;
    let sel = select(ty, &opts.select)?;
    let exps = resolve_expands(sh, ty, &opts.expand)?;
    let mut order = Vec::new();
    for (n, desc) in &opts.orderby {
        let i = ty.idx(n).ok_or_else(|| {
            bad(format!(
                "Could not find a property named '{n}' on type '{}'.",
                ty.qualified()
            ))
        })?;
        order.push((i, *desc));
    }
    let page = req
        .max_page
        .map_or(sh.cfg.max_page_size, |n| n.clamp(1, sh.cfg.max_page_size));
    // $top suppresses nextLink (BC): the page is capped at the server maximum.
    let limit = opts.top.map_or(page, |t| t.min(sh.cfg.max_page_size));
    let after: Option<Uuid> = match &opts.skiptoken {
        Some(t) => {
            Some(parse_key(t).ok_or_else(|| bad(format!("The skip token '{t}' is not valid.")))?)
        }
        None => None,
    };
    let mut skip = if after.is_some() {
        0
    } else {
        opts.skip.unwrap_or(0)
    };
    let keep = |r: &Record| filt.as_ref().is_none_or(|f| filter::eval(f, r));
    let mut items: Vec<(u64, Record, Vec<Record>)> = Vec::new();
    let mut more = false;
    let id_of = |r: &Record| match r.vals[0] {
        Val::Guid(g) => g,
        _ => Uuid::nil(),
    };
    // $count=true: the total number of matches (a full scan, only when asked).
    let total = if !opts.count {
        0
    } else {
        match (&src, ctx) {
            (Source::Store, Some(ctx)) => count_matches(sh, ctx, set, filt.as_ref()),
            (Source::Mem(v), _) => v.iter().filter(|(_, r)| keep(r)).count(),
            _ => 0,
        }
    };
    if order.is_empty() {
        let mut push = |pos: u64,
                        (r, lines): (Record, Vec<Record>),
                        items: &mut Vec<(u64, Record, Vec<Record>)>|
         -> bool {
            if !keep(&r) {
                return true;
            }
            if skip > 0 {
                skip -= 1;
                return true;
            }
            if items.len() == limit {
                more = true;
                return false;
            }
            items.push((pos, r, lines));
            true
        };
        match (src, ctx) {
            (Source::Store, Some(ctx)) => {
                let start = match after {
                    Some(id) => {
                        position_of(ctx, set, &id)
                            .ok_or_else(|| bad("The skip token is not valid."))?
                            + 1
                    }
                    None => 0,
                };
                let overlay_only = filt
                    .as_ref()
                    .and_then(|f| filter::lmd_lower_bound(f, ty))
                    .is_some_and(|b| b >= BASE_MAX_LAST_MODIFIED);
                if overlay_only {
                    // Incremental read: O(changes), the generated base is older than the bound.
                    for p in sh.store.overlay_positions(ctx, set, start) {
                        if let Some(r) = sh.store.get_full(ctx, set, p)
                            && !push(p, r, &mut items)
                        {
                            break;
                        }
                    }
                } else {
                    let end = sh.store.end(ctx, set);
                    let mut p = start;
                    'scan: while p < end {
                        // Generate in batches on all cores; the filter/skip/limit pass stays sequential.
                        let want = (limit + 1).saturating_sub(items.len()).clamp(256, 8192) as u64;
                        let batch_end = (p + want).min(end);
                        for (q, r) in gen_batch(sh, ctx, set, p, batch_end) {
                            if !push(q, r, &mut items) {
                                break 'scan;
                            }
                        }
                        p = batch_end;
                    }
                }
            }
            (Source::Mem(v), _) => {
                let mut started = after.is_none();
                for (p, r) in v {
                    if !started {
                        started = id_of(&r) == after.unwrap_or_default();
                        continue;
                    }
                    if !push(p, (r, Vec::new()), &mut items) {
                        break;
                    }
                }
            }
            (Source::Store, None) => {}
        }
    } else {
        let all: Vec<(u64, Record, Vec<Record>)> = match (src, ctx) {
            (Source::Store, Some(ctx)) => (0..sh.store.end(ctx, set))
                .filter_map(|p| sh.store.get_full(ctx, set, p).map(|(r, l)| (p, r, l)))
                .filter(|(_, r, _)| keep(r))
                .collect(),
            (Source::Mem(v), _) => v
                .into_iter()
                .filter(|(_, r)| keep(r))
                .map(|(p, r)| (p, r, Vec::new()))
                .collect(),
            _ => Vec::new(),
        };
        let mut all = all;
        all.sort_by(|(pa, a, _), (pb, b, _)| {
            for (i, desc) in &order {
                let o = cmp_val(&a.vals[*i], &b.vals[*i]);
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            pa.cmp(pb)
        });
        let start = match after {
            Some(id) => all
                .iter()
                .position(|(_, r, _)| id_of(r) == id)
                .map_or(all.len(), |i| i + 1),
            None => skip.min(all.len()),
        };
        skip = 0;
        let _ = skip;
        let end = (start + limit).min(all.len());
        more = end < all.len();
        items = all.drain(start..end).collect();
    }
    // BC sends a nextLink whenever a page is full (the next page may be empty).
    let next = if opts.top.is_none() && (more || items.len() == limit) {
        items.last().map(|(_, r, _)| id_of(r))
    } else {
        None
    };
    let mut out = Vec::new();
    out.extend_from_slice(b"{\"@odata.context\":");
    write_str(&mut out, context_url);
    if opts.count {
        out.extend_from_slice(b",\"@odata.count\":");
        out.extend_from_slice(total.to_string().as_bytes());
    }
    out.extend_from_slice(b",\"value\":[");
    let write_chunk = |chunk: &[(u64, Record, Vec<Record>)]| -> Vec<u8> {
        let mut out = Vec::new();
        for (i, (_, r, lines)) in chunk.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if i == 1 {
                // Size the buffer from the first entity: avoids repeated doubling
                // (and copying) of a ~100 MB page with expanded lines.
                out.reserve((out.len() + 64) * chunk.len());
            }
            out.push(b'{');
            let eurl = croot
                .map(|c| format!("{c}/{set}({})", id_of(r)))
                .unwrap_or_default();
            match ctx {
                Some(ctx) => write_full(&mut out, sh, ctx, set, ty, r, lines, &sel, &exps, &eurl),
                None => write_entity_body(&mut out, ty, r, &sel),
            }
            out.push(b'}');
        }
        out
    };
    let parts: Vec<Vec<u8>> = if items.len() < 512 {
        vec![write_chunk(&items)]
    } else {
        let per = items.len().div_ceil(threads());
        std::thread::scope(|s| {
            let hs: Vec<_> = items
                .chunks(per)
                .map(|c| s.spawn(move || write_chunk(c)))
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        })
    };
    // The page goes out as a list of chunks (no 100 MB concatenation copy).
    let mut chunks: Vec<bytes::Bytes> = Vec::with_capacity(parts.len() * 2 + 2);
    chunks.push(bytes::Bytes::from(out));
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            chunks.push(bytes::Bytes::from_static(b","));
        }
        chunks.push(bytes::Bytes::from(part));
    }
    let mut tail = b"]".to_vec();
    if let Some(id) = next {
        let base = query::without_paging(req.raw_query);
        let link = format!(
            "{}?{}aid=FIN&$skiptoken={id}",
            req_url(req, context_url),
            if base.is_empty() {
                String::new()
            } else {
                format!("{base}&")
            }
        );
        tail.extend_from_slice(b",\"@odata.nextLink\":");
        write_str(&mut tail, &link);
    }
    tail.push(b'}');
    chunks.push(bytes::Bytes::from(tail));
    let n = items.len();
    drop(items);
    let len: usize = chunks.iter().map(bytes::Bytes::len).sum();
    let body = axum::body::Body::from_stream(futures::stream::iter(
        chunks.into_iter().map(Ok::<_, std::convert::Infallible>),
    ));
    let mut response = json_body(body, req.max_page.map(|_| page));
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    Ok(ApiResponse {
        response,
        records: n,
    })
}

fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4)
}

/// Generates positions `from..to` (deleted ones skipped), split across cores.
type Full = (u64, (Record, Vec<Record>));
fn gen_batch(sh: &Shared, ctx: &Ctx, set: &'static str, from: u64, to: u64) -> Vec<Full> {
    let one = |a: u64, b: u64| -> Vec<Full> {
        (a..b)
            .filter_map(|p| sh.store.get_full(ctx, set, p).map(|r| (p, r)))
            .collect()
    };
    let n = to.saturating_sub(from);
    let t = threads() as u64;
    if n < 512 || t == 1 {
        return one(from, to);
    }
    let chunk = n.div_ceil(t);
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..t)
            .map(|i| {
                let a = from + i * chunk;
                let b = (a + chunk).min(to);
                s.spawn(move || one(a, b))
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// The request URL without query, rebuilt from the context URL
/// (`{root}/$metadata#companies(x)/set` → `{root}/companies(x)/set`).
fn req_url(req: &ApiRequest<'_>, context_url: &str) -> String {
    let tail = context_url.split_once("$metadata#").map_or("", |(_, t)| t);
    format!("{}/{}", req.root, tail)
}

/// Writes properties (and etag) of an entity, without braces.
fn write_entity_body(out: &mut Vec<u8>, ty: &EntityType, r: &Record, sel: &Option<Vec<usize>>) {
    write_props(out, ty, r, sel, "");
}

fn write_props(
    out: &mut Vec<u8>,
    ty: &EntityType,
    r: &Record,
    sel: &Option<Vec<usize>>,
    eurl: &str,
) {
    let id = match r.vals[0] {
        Val::Guid(g) => g,
        _ => Uuid::nil(),
    };
    out.extend_from_slice(b"\"@odata.etag\":");
    write_str(out, &etag(&id, r.version));
    let mut emit = |i: usize| {
        let p = &ty.props[i];
        if p.kind == Kind::Stream {
            let link = format!("{eurl}/{}", p.name);
            for a in ["mediaEditLink", "mediaReadLink"] {
                out.extend_from_slice(format!(",\"{}@odata.{a}\":", p.name).as_bytes());
                write_str(out, &link);
            }
            return;
        }
        out.extend_from_slice(b",\"");
        out.extend_from_slice(p.name.as_bytes());
        out.extend_from_slice(b"\":");
        write_val(out, &r.vals[i]);
    };
    match sel {
        None => (0..ty.props.len()).for_each(&mut emit),
        Some(s) => s.iter().copied().for_each(&mut emit),
    }
}

#[allow(clippy::too_many_arguments)]
fn write_full(
    out: &mut Vec<u8>,
    sh: &Shared,
    ctx: &Ctx,
    set: &'static str,
    ty: &EntityType,
    r: &Record,
    lines: &[Record],
    sel: &Option<Vec<usize>>,
    exps: &[ResolvedExpand],
    eurl: &str,
) {
    write_props(out, ty, r, sel, eurl);
    for e in exps {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(b"\":");
        match &e.kind {
            ExpandKind::Lines => {
                let lt = e.ty.expect("line type");
                out.push(b'[');
                let mut n = 0;
                for l in lines {
                    if e.filter.as_ref().is_some_and(|f| !filter::eval(f, l)) {
                        continue;
                    }
                    if e.top.is_some_and(|t| n >= t) {
                        break;
                    }
                    if n > 0 {
                        out.push(b',');
                    }
                    out.push(b'{');
                    write_props(out, lt, l, &e.sel, "");
                    out.push(b'}');
                    n += 1;
                }
                out.push(b']');
            }
            ExpandKind::Pdf => {
                let id = match r.vals[0] {
                    Val::Guid(g) => g,
                    _ => Uuid::nil(),
                };
                out.push(b'{');
                write_pdf_entity(out, set, &id, eurl);
                out.push(b'}');
            }
            ExpandKind::Party(pset) => {
                let field = if *pset == "customers" {
                    "customerId"
                } else {
                    "vendorId"
                };
                let party = ty.idx(field).and_then(|i| match r.vals[i] {
                    Val::Guid(g) => {
                        position_of(ctx, pset, &g).and_then(|p| sh.store.get(ctx, pset, p))
                    }
                    _ => None,
                });
                match (party, e.ty) {
                    (Some(p), Some(pt)) => {
                        out.push(b'{');
                        write_props(out, pt, &p, &e.sel, "");
                        out.push(b'}');
                    }
                    _ => out.extend_from_slice(b"null"),
                }
            }
        }
    }
}

fn parent_type(set: &str) -> &'static str {
    match set {
        "salesQuotes" => "Sales_x0020_Quote",
        "salesCreditMemos" => "Sales_x0020_Credit_x0020_Memo",
        "purchaseInvoices" => "Purchase_x0020_Invoice",
        _ => "Sales_x0020_Invoice",
    }
}

fn write_pdf_entity(out: &mut Vec<u8>, set: &str, id: &Uuid, eurl: &str) {
    // BC's pdfDocument: id and parentId are both the document id.
    let link = format!("{eurl}/pdfDocument/pdfDocumentContent");
    out.extend_from_slice(
        format!(
            "\"id\":\"{id}\",\"parentId\":\"{id}\",\"parentType\":\"{}\"",
            parent_type(set)
        )
        .as_bytes(),
    );
    for a in ["mediaEditLink", "mediaReadLink"] {
        out.extend_from_slice(format!(",\"pdfDocumentContent@odata.{a}\":").as_bytes());
        write_str(out, &link);
    }
}

fn render_pdf(
    sh: &Shared,
    ctx: &Ctx,
    set: &'static str,
    ty: &EntityType,
    pos: u64,
    rec: &Record,
) -> Vec<u8> {
    let g = |n: &str| {
        ty.idx(n)
            .map(|i| {
                let mut v = Vec::new();
                write_val(&mut v, &rec.vals[i]);
                String::from_utf8_lossy(&v).trim_matches('"').to_string()
            })
            .unwrap_or_default()
    };
    let title = match set {
        "salesQuotes" => "Sales Quote",
        "salesCreditMemos" => "Sales Credit Memo",
        "purchaseInvoices" => "Purchase Invoice",
        _ => "Sales Invoice",
    };
    let party = if set.starts_with("purchase") {
        g("vendorName")
    } else {
        g("customerName")
    };
    let mut lines = vec![
        format!(
            "{} - {}",
            datagen::company_name(ctx.company as usize),
            title
        ),
        format!("{title} No. {}", g("number")),
        format!("Customer: {party}"),
        format!(
            "Date: {}",
            ["invoiceDate", "documentDate", "creditMemoDate"]
                .iter()
                .map(|f| g(f))
                .find(|s| !s.is_empty())
                .unwrap_or_default()
        ),
        String::new(),
        "Description | Quantity | Unit Price | Amount".into(),
    ];
    if let Some(lt) = datagen::line_set(set).and_then(|l| sh.store.ty(l)) {
        for l in sh.store.lines(ctx, set, pos) {
            let v = |n: &str| {
                lt.idx(n)
                    .map(|i| {
                        let mut b = Vec::new();
                        write_val(&mut b, &l.vals[i]);
                        String::from_utf8_lossy(&b).trim_matches('"').to_string()
                    })
                    .unwrap_or_default()
            };
            let price = ["unitPrice", "unitCost", "directUnitCost"]
                .iter()
                .map(|f| v(f))
                .find(|s| !s.is_empty())
                .unwrap_or_default();
            lines.push(format!(
                "{} | {} | {} | {}",
                v("description"),
                v("quantity"),
                price,
                v("amountExcludingTax")
            ));
        }
    }
    lines.push(String::new());
    lines.push(format!(
        "Total excl. tax: {} {}",
        g("totalAmountExcludingTax"),
        g("currencyCode")
    ));
    lines.push(format!("Tax: {}", g("totalTaxAmount")));
    lines.push(format!(
        "Total incl. tax: {} {}",
        g("totalAmountIncludingTax"),
        g("currencyCode")
    ));
    crate::pdf::text_pdf(&lines)
}
