//! Deterministic data generator: record `i` of an entity set is derived from
//! `(seed, company, set, i)` on demand, so a million invoices cost no memory.
//!
//! Ids encode the position: the first 4 bytes are the position (big endian),
//! then the set code, environment and company. Ascending id order is therefore
//! position order (BC pages in primary-key order and its skiptoken is the key
//! of the last entity), and a skiptoken maps back to a position in O(1).

use crate::schema::{EntityType, Schema};
use crate::value::{Record, Val, round2};
use crate::words::*;
use chrono::{DateTime, Days, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

/// Entity sets with generated data, in set-code order (code = index + 1).
pub const SETS: &[&str] = &[
    "salesInvoices",
    "salesOrders",
    "salesQuotes",
    "salesCreditMemos",
    "purchaseInvoices",
    "purchaseOrders",
    "customers",
    "vendors",
    "items",
    "contacts",
    "employees",
    "generalLedgerEntries",
    "projects",
    "companyInformation",
    "documentAttachments",
    "salesInvoiceLines",
    "salesOrderLines",
    "salesQuoteLines",
    "salesCreditMemoLines",
    "purchaseInvoiceLines",
    "purchaseOrderLines",
    "pdfDocument",
    "customApi",
    "salesShipments",
    "purchaseReceipts",
    "purchaseCreditMemos",
    "itemLedgerEntries",
    "bankAccounts",
    "salesShipmentLines",
    "purchaseReceiptLines",
    "purchaseCreditMemoLines",
];

/// Document sets and their line set.
pub const DOCS: &[(&str, &str)] = &[
    ("salesInvoices", "salesInvoiceLines"),
    ("salesOrders", "salesOrderLines"),
    ("salesQuotes", "salesQuoteLines"),
    ("salesCreditMemos", "salesCreditMemoLines"),
    ("purchaseInvoices", "purchaseInvoiceLines"),
    ("purchaseOrders", "purchaseOrderLines"),
    ("salesShipments", "salesShipmentLines"),
    ("purchaseReceipts", "purchaseReceiptLines"),
    ("purchaseCreditMemos", "purchaseCreditMemoLines"),
];

/// Latest `lastModifiedDateTime` of any generated (never changed) record:
/// 2025-06-30T23:59:59.999Z. A filter `lastModifiedDateTime gt X` with
/// X >= this only has to look at the change overlay.
pub const BASE_MAX_LAST_MODIFIED: i64 = 1_751_327_999_999;
/// Earliest generated `lastModifiedDateTime` (2023-01-01T00:00:00Z).
pub const BASE_MIN_LAST_MODIFIED: i64 = 1_672_531_200_000;

/// Code of an entity set (1-based), used inside ids.
pub fn set_code(set: &str) -> Option<u16> {
    SETS.iter().position(|s| *s == set).map(|i| i as u16 + 1)
}

/// Whether `set` is a top-level entity set of API v2.0 with generated data
/// (not a line set, not `pdfDocument`, not the custom page).
pub fn is_top_level(set: &str) -> bool {
    SETS.contains(&set) && !set.ends_with("Lines") && set != "pdfDocument" && set != "customApi"
}

/// Line set of a document set.
pub fn line_set(doc_set: &str) -> Option<&'static str> {
    DOCS.iter().find(|(d, _)| *d == doc_set).map(|(_, l)| *l)
}

/// Which company of which environment a generator works for.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    /// Generator seed.
    pub seed: u64,
    /// Environment index.
    pub env: u8,
    /// Company index.
    pub company: u8,
    /// Sales invoices per company.
    pub scale: u64,
    /// Records of the custom API page.
    pub custom_count: u64,
}

fn mix(mut h: u64, x: u64) -> u64 {
    h ^= x
        .wrapping_add(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(h << 6)
        .wrapping_add(h >> 2);
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb) ^ (h >> 31)
}

impl Ctx {
    /// Number of generated (base) records of a set.
    pub fn base_count(&self, set: &str) -> u64 {
        let n = self.scale;
        match set {
            "salesInvoices" => n,
            "salesOrders" => (n / 4).max(5),
            "salesQuotes"
            | "salesCreditMemos"
            | "purchaseInvoices"
            | "purchaseOrders"
            | "purchaseReceipts"
            | "purchaseCreditMemos" => (n / 10).max(5),
            "salesShipments" => (n / 4).max(5),
            "itemLedgerEntries" => n * 2,
            "bankAccounts" => (n / 1000).clamp(3, 20),
            "customers" | "contacts" => (n / 10).clamp(10, 10_000),
            "vendors" => (n / 40).clamp(5, 2_000),
            "items" => (n / 20).clamp(10, 5_000),
            "employees" => (n / 100).clamp(5, 500),
            "projects" => (n / 100).clamp(3, 500),
            "generalLedgerEntries" => n * 2,
            "companyInformation" => 1,
            "documentAttachments" => (n / 20).max(3),
            "customApi" => self.custom_count,
            _ => 0,
        }
    }

    fn rng(&self, code: u16, pos: u64, sub: u64) -> ChaCha8Rng {
        let h = mix(
            mix(
                mix(mix(self.seed, u64::from(self.company)), u64::from(code)),
                pos,
            ),
            sub,
        );
        ChaCha8Rng::seed_from_u64(h)
    }

    /// The id of record `pos` of a set (see the module doc for the layout).
    pub fn id(&self, code: u16, pos: u64, sub: u16) -> Uuid {
        let h = mix(
            mix(self.seed, u64::from(code) << 32 | u64::from(self.company)),
            pos,
        )
        .to_be_bytes();
        let mut b = [0u8; 16];
        b[0..4].copy_from_slice(&(pos as u32).to_be_bytes());
        b[4..6].copy_from_slice(&code.to_be_bytes());
        b[6] = 0x40 | (self.env & 0x0f);
        b[7] = self.company;
        b[8..10].copy_from_slice(&(0x8000 | (sub & 0x3fff)).to_be_bytes());
        b[10..16].copy_from_slice(&h[0..6]);
        Uuid::from_bytes(b)
    }

    /// Decodes an id of this company back to (set code, position, sub) if it is one of ours.
    pub fn decode(&self, id: &Uuid) -> Option<(u16, u64, u16)> {
        let b = id.as_bytes();
        let pos = u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let code = u16::from_be_bytes([b[4], b[5]]);
        let sub = u16::from_be_bytes([b[8], b[9]]) & 0x3fff;
        (self.id(code, pos, sub) == *id).then_some((code, pos, sub))
    }

    /// Customer basics shared by customers, contacts and documents.
    fn party(&self, code: u16, idx: u64) -> Party {
        let mut r = self.rng(code, idx, 99);
        let base = COMPANY_NAMES[(idx as usize) % COMPANY_NAMES.len()];
        let round = (idx as usize) / COMPANY_NAMES.len();
        let name = if round == 0 {
            base.to_string()
        } else {
            format!("{base}{} {}", NAME_SUFFIX[round % NAME_SUFFIX.len()], round)
        };
        let (city, state, country, pc) = CITIES[r.gen_range(0..CITIES.len())];
        Party {
            id: self.id(code, idx, 0),
            number: format!("{}", if code == 8 { 40000 } else { 10000 } + idx * 10),
            name,
            address: format!(
                "{} {}",
                r.gen_range(1..400),
                STREETS[r.gen_range(0..STREETS.len())]
            ),
            city,
            state,
            country,
            post: format!("{pc}{:02}", r.gen_range(0..100)),
            contact: format!(
                "{} {}",
                FIRST[r.gen_range(0..FIRST.len())],
                LAST[r.gen_range(0..LAST.len())]
            ),
        }
    }

    fn item_basics(&self, idx: u64) -> ItemBasics {
        let mut r = self.rng(9, idx, 99);
        let base = ITEMS[(idx as usize) % ITEMS.len()];
        let tail = TAILS[r.gen_range(0..TAILS.len())];
        let mut desc = format!("{base}{tail}");
        if idx as usize >= ITEMS.len() {
            desc = format!("{desc} #{idx}");
        }
        // description is MaxLength 100 on items and lines: cut on a char boundary.
        let desc: String = desc.chars().take(100).collect();
        ItemBasics {
            id: self.id(9, idx, 0),
            number: format!("{}", 1000 + idx * 10),
            desc,
            price: f64::from(r.gen_range(500..250_000u32)) / 100.0,
            uom: UOM[r.gen_range(0..UOM.len())],
        }
    }

    fn lmd(r: &mut ChaCha8Rng) -> i64 {
        r.gen_range(BASE_MIN_LAST_MODIFIED..=BASE_MAX_LAST_MODIFIED)
    }

    /// Tax percent of the company (sales tax in the US company, VAT elsewhere).
    pub fn tax_percent(&self) -> f64 {
        if self.company == 0 { 7.0 } else { 19.0 }
    }

    /// Currency code of the company.
    pub fn currency(&self) -> &'static str {
        if self.company == 0 { "USD" } else { "EUR" }
    }

    /// Number of lines of a generated document.
    pub fn line_count(&self, doc_set: &str, pos: u64) -> u64 {
        let code = set_code(doc_set).unwrap_or(0);
        mix(
            mix(self.seed, u64::from(code) * 7919 + u64::from(self.company)),
            pos,
        ) % 6
            + 1
    }

    /// Generates line `seq_idx` (0-based) of document `pos`.
    pub fn line(&self, doc_set: &str, pos: u64, seq_idx: u64) -> Record {
        let s = Schema::get();
        let lset = line_set(doc_set).unwrap_or("salesInvoiceLines");
        let t = s.by_set(lset).expect("line set in schema");
        let dcode = set_code(doc_set).unwrap_or(0);
        let lcode = set_code(lset).unwrap_or(0);
        let mut r = self.rng(lcode, pos, seq_idx);
        let mut rec = Record::blank(t);
        let items = self.base_count("items");
        let it = self.item_basics(r.gen_range(0..items));
        let q = f64::from(r.gen_range(1..25u32));
        let amount = round2(q * it.price);
        let pct = self.tax_percent();
        let tax = round2(amount * pct / 100.0);
        put(
            &mut rec,
            t,
            "id",
            Val::Guid(self.id(lcode, pos, seq_idx as u16 + 1)),
        );
        put(&mut rec, t, "documentId", Val::Guid(self.id(dcode, pos, 0)));
        put(
            &mut rec,
            t,
            "sequence",
            Val::Int(((seq_idx + 1) * 10000) as i64),
        );
        put(&mut rec, t, "itemId", Val::Guid(it.id));
        put(&mut rec, t, "lineType", Val::Enum("Item"));
        put(&mut rec, t, "lineObjectNumber", Val::Str(it.number));
        put(&mut rec, t, "description", Val::Str(it.desc));
        put(
            &mut rec,
            t,
            "unitOfMeasureId",
            Val::Guid(self.id(30, (it.uom.len() as u64) & 0xff, 0)),
        );
        put(&mut rec, t, "unitOfMeasureCode", Val::S(it.uom));
        put(&mut rec, t, "quantity", Val::Dec(q));
        for p in ["unitPrice", "unitCost", "directUnitCost"] {
            put(&mut rec, t, p, Val::Dec(it.price));
        }
        put(&mut rec, t, "amountExcludingTax", Val::Dec(amount));
        put(&mut rec, t, "taxCode", Val::Str(format!("{pct}%")));
        put(&mut rec, t, "taxPercent", Val::Dec(pct));
        put(&mut rec, t, "totalTaxAmount", Val::Dec(tax));
        put(
            &mut rec,
            t,
            "amountIncludingTax",
            Val::Dec(round2(amount + tax)),
        );
        put(&mut rec, t, "netAmount", Val::Dec(amount));
        put(&mut rec, t, "netTaxAmount", Val::Dec(tax));
        put(
            &mut rec,
            t,
            "netAmountIncludingTax",
            Val::Dec(round2(amount + tax)),
        );
        let d = date_of(BASE_MIN_LAST_MODIFIED + (pos as i64 % 900) * 86_400_000);
        put(&mut rec, t, "shipmentDate", Val::Date(d));
        put(&mut rec, t, "expectedReceiptDate", Val::Date(d));
        rec
    }

    /// Recomputes the amounts of a line after a quantity/price edit.
    pub fn reprice_line(&self, t: &EntityType, rec: &mut Record) {
        let q = rec.get(t, "quantity").as_f64().unwrap_or(0.0);
        let price = ["unitPrice", "unitCost", "directUnitCost"]
            .iter()
            .find_map(|p| t.idx(p).and_then(|i| rec.vals[i].as_f64()))
            .unwrap_or(0.0);
        let pct = rec.get(t, "taxPercent").as_f64().unwrap_or(0.0);
        let amount = round2(q * price);
        let tax = round2(amount * pct / 100.0);
        for (p, v) in [
            ("amountExcludingTax", amount),
            ("totalTaxAmount", tax),
            ("amountIncludingTax", round2(amount + tax)),
            ("netAmount", amount),
            ("netTaxAmount", tax),
            ("netAmountIncludingTax", round2(amount + tax)),
        ] {
            put(rec, t, p, Val::Dec(v));
        }
    }

    /// Generates a record of a non-line set at `pos`; document totals come from `lines`.
    pub fn record(&self, set: &str, pos: u64, lines: &[Record]) -> Option<Record> {
        let s = Schema::get();
        let code = set_code(set)?;
        if set == "customApi" {
            return None;
        }
        let t = s.by_set(set)?;
        let mut r = self.rng(code, pos, 0);
        let mut rec = Record::blank(t);
        let id = self.id(code, pos, 0);
        put(&mut rec, t, "id", Val::Guid(id));
        let lmd = Self::lmd(&mut r);
        put(&mut rec, t, "lastModifiedDateTime", Val::Dt(lmd));
        let day = date_of(lmd);
        match set {
            "customers" | "vendors" | "contacts" => {
                let p = self.party(if set == "vendors" { 8 } else { 7 }, pos);
                put(
                    &mut rec,
                    t,
                    "number",
                    Val::Str(if set == "contacts" {
                        format!("CT{:06}", pos + 1)
                    } else {
                        p.number
                    }),
                );
                put(&mut rec, t, "displayName", Val::Str(p.name.clone()));
                put(&mut rec, t, "type", Val::Enum("Company"));
                put(&mut rec, t, "addressLine1", Val::Str(p.address));
                put(&mut rec, t, "city", Val::S(p.city));
                put(&mut rec, t, "state", Val::S(p.state));
                put(&mut rec, t, "country", Val::S(p.country));
                put(&mut rec, t, "postalCode", Val::Str(p.post));
                put(
                    &mut rec,
                    t,
                    "email",
                    Val::Str(format!("info{pos}@example.com")),
                );
                put(
                    &mut rec,
                    t,
                    "phoneNumber",
                    Val::Str(format!("+1 555 {:04}", pos % 10000)),
                );
                put(
                    &mut rec,
                    t,
                    "salespersonCode",
                    Val::S(SALES[pos as usize % SALES.len()]),
                );
                put(&mut rec, t, "currencyCode", Val::S(self.currency()));
                put(&mut rec, t, "taxLiable", Val::Bool(r.gen_bool(0.7)));
                put(
                    &mut rec,
                    t,
                    "balanceDue",
                    Val::Dec(f64::from(r.gen_range(0..500_000u32)) / 100.0),
                );
                put(
                    &mut rec,
                    t,
                    "balance",
                    Val::Dec(f64::from(r.gen_range(0..500_000u32)) / 100.0),
                );
                put(
                    &mut rec,
                    t,
                    "creditLimit",
                    Val::Dec(f64::from(r.gen_range(0..20u32)) * 1000.0),
                );
                put(&mut rec, t, "companyName", Val::Str(p.name.clone()));
                put(
                    &mut rec,
                    t,
                    "searchName",
                    Val::Str(p.name.to_uppercase().chars().take(100).collect()),
                );
                put(
                    &mut rec,
                    t,
                    "contactBusinessRelation",
                    Val::Enum("Customer"),
                );
                put(&mut rec, t, "lastInteractionDate", Val::Date(day));
                if pos % 17 == 3 {
                    put(
                        &mut rec,
                        t,
                        "blocked",
                        Val::Enum(if set == "vendors" {
                            "Payment"
                        } else {
                            "Invoice"
                        }),
                    );
                }
            }
            "items" => {
                let it = self.item_basics(pos);
                put(&mut rec, t, "number", Val::Str(it.number));
                put(&mut rec, t, "displayName", Val::Str(it.desc));
                put(
                    &mut rec,
                    t,
                    "type",
                    Val::Enum(if pos.is_multiple_of(7) {
                        "Service"
                    } else {
                        "Inventory"
                    }),
                );
                put(&mut rec, t, "unitPrice", Val::Dec(it.price));
                put(&mut rec, t, "unitCost", Val::Dec(round2(it.price * 0.6)));
                put(
                    &mut rec,
                    t,
                    "inventory",
                    Val::Dec(f64::from(r.gen_range(0..500u32))),
                );
                put(&mut rec, t, "baseUnitOfMeasureCode", Val::S(it.uom));
                put(
                    &mut rec,
                    t,
                    "gtin",
                    Val::Str(format!("{:013}", 4_000_000_000_000 + pos)),
                );
            }
            "employees" => {
                let g = FIRST[r.gen_range(0..FIRST.len())];
                let l = LAST[r.gen_range(0..LAST.len())];
                put(&mut rec, t, "number", Val::Str(format!("E{:04}", pos + 1)));
                put(&mut rec, t, "displayName", Val::Str(format!("{g} {l}")));
                put(&mut rec, t, "givenName", Val::S(g));
                put(&mut rec, t, "surname", Val::S(l));
                put(
                    &mut rec,
                    t,
                    "jobTitle",
                    Val::S(JOBS[pos as usize % JOBS.len()]),
                );
                put(
                    &mut rec,
                    t,
                    "email",
                    Val::Str(format!("employee{pos}@cronus.example")),
                );
                put(&mut rec, t, "status", Val::Enum("Active"));
                put(&mut rec, t, "employmentDate", Val::Date(day));
                put(
                    &mut rec,
                    t,
                    "birthDate",
                    Val::Date(
                        NaiveDate::from_ymd_opt(1970 + (pos % 30) as i32, 3, 14)
                            .unwrap_or_default(),
                    ),
                );
            }
            "projects" => {
                put(
                    &mut rec,
                    t,
                    "number",
                    Val::Str(format!("JOB{:05}", pos + 1)),
                );
                put(
                    &mut rec,
                    t,
                    "displayName",
                    Val::Str(format!(
                        "Einrichtung {} – phase {}",
                        COMPANY_NAMES[pos as usize % COMPANY_NAMES.len()],
                        pos % 4 + 1
                    )),
                );
            }
            "generalLedgerEntries" => {
                put(&mut rec, t, "entryNumber", Val::Int(pos as i64 + 1));
                put(&mut rec, t, "postingDate", Val::Date(day));
                put(
                    &mut rec,
                    t,
                    "documentNumber",
                    Val::Str(format!("{}", 103_001 + pos / 2)),
                );
                put(
                    &mut rec,
                    t,
                    "documentType",
                    // The document type agrees with the description
                    // (GL_DESC): a payment received is a Payment, a
                    // refund (Rückerstattung) a Refund, the rest invoices.
                    Val::Enum(match GL_DESC[pos as usize % GL_DESC.len()] {
                        "Payment received" => "Payment",
                        "Rückerstattung" => "Refund",
                        _ => "Invoice",
                    }),
                );
                put(
                    &mut rec,
                    t,
                    "accountNumber",
                    Val::Str(format!("{}", 10_000 + (pos % 80) * 100)),
                );
                put(
                    &mut rec,
                    t,
                    "description",
                    Val::S(GL_DESC[pos as usize % GL_DESC.len()]),
                );
                let amt = f64::from(r.gen_range(100..1_000_000u32)) / 100.0;
                put(
                    &mut rec,
                    t,
                    if pos.is_multiple_of(2) {
                        "debitAmount"
                    } else {
                        "creditAmount"
                    },
                    Val::Dec(amt),
                );
            }
            "itemLedgerEntries" => {
                let it = self.item_basics(pos % self.base_count("items").max(1));
                let sale = !pos.is_multiple_of(3);
                let q = f64::from(r.gen_range(1..25u32));
                put(&mut rec, t, "entryNumber", Val::Int(pos as i64 + 1));
                put(&mut rec, t, "itemNumber", Val::Str(it.number));
                put(&mut rec, t, "description", Val::Str(it.desc));
                put(&mut rec, t, "postingDate", Val::Date(day));
                put(
                    &mut rec,
                    t,
                    "entryType",
                    Val::Enum(if sale { "Sale" } else { "Purchase" }),
                );
                let party = if sale {
                    self.party(7, pos % self.base_count("customers").max(1))
                } else {
                    self.party(8, pos % self.base_count("vendors").max(1))
                };
                put(&mut rec, t, "sourceNumber", Val::Str(party.number));
                put(
                    &mut rec,
                    t,
                    "sourceType",
                    Val::Enum(if sale { "Customer" } else { "Vendor" }),
                );
                put(
                    &mut rec,
                    t,
                    "documentType",
                    Val::Enum(if sale {
                        "Sales_x0020_Shipment"
                    } else {
                        "Purchase_x0020_Receipt"
                    }),
                );
                put(
                    &mut rec,
                    t,
                    "documentNumber",
                    Val::Str(if sale {
                        format!("102{:03}", 1 + pos / 3 % 1000)
                    } else {
                        format!("107{:03}", 1 + pos / 3 % 1000)
                    }),
                );
                put(&mut rec, t, "quantity", Val::Dec(if sale { -q } else { q }));
                if sale {
                    put(
                        &mut rec,
                        t,
                        "salesAmountActual",
                        Val::Dec(round2(q * it.price)),
                    );
                }
                put(
                    &mut rec,
                    t,
                    "costAmountActual",
                    Val::Dec(round2(if sale { -q } else { q } * it.price * 0.6)),
                );
            }
            "bankAccounts" => {
                const BANKS: &[&str] = &[
                    "World Wide Bank",
                    "Giro Bank",
                    "Nordea Erhverv",
                    "Crédit Mutuel",
                    "Bank of Tokyo",
                ];
                put(
                    &mut rec,
                    t,
                    "number",
                    Val::Str(format!(
                        "{}{}",
                        ["WWB-", "GIRO-", "NBL-"][pos as usize % 3],
                        pos + 1
                    )),
                );
                put(
                    &mut rec,
                    t,
                    "displayName",
                    Val::Str(format!(
                        "{} {}",
                        BANKS[pos as usize % BANKS.len()],
                        ["Operating", "Payroll", "USD", "EUR"][pos as usize % 4]
                    )),
                );
                put(
                    &mut rec,
                    t,
                    "bankAccountNumber",
                    Val::Str(format!(
                        "{:04}-{:08}",
                        1000 + pos,
                        r.gen_range(0..99_999_999u32)
                    )),
                );
                put(
                    &mut rec,
                    t,
                    "iban",
                    Val::Str(format!(
                        "GB{:02} WWBK {:04} {:04} {:04} {:02}",
                        r.gen_range(10..99u32),
                        r.gen_range(0..9999u32),
                        r.gen_range(0..9999u32),
                        r.gen_range(0..9999u32),
                        pos % 100
                    )),
                );
                put(&mut rec, t, "currencyCode", Val::S(self.currency()));
                put(&mut rec, t, "blocked", Val::Bool(pos % 11 == 10));
            }
            "companyInformation" => {
                let name = company_name(self.company as usize);
                put(&mut rec, t, "displayName", Val::Str(name));
                put(&mut rec, t, "addressLine1", Val::S("5 The Ring"));
                put(
                    &mut rec,
                    t,
                    "city",
                    Val::S(if self.company == 0 {
                        "Atlanta"
                    } else {
                        "München"
                    }),
                );
                put(
                    &mut rec,
                    t,
                    "country",
                    Val::S(if self.company == 0 { "US" } else { "DE" }),
                );
                put(&mut rec, t, "currencyCode", Val::S(self.currency()));
                put(
                    &mut rec,
                    t,
                    "currentFiscalYearStartDate",
                    Val::Date(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default()),
                );
                put(&mut rec, t, "industry", Val::S("Furniture"));
            }
            "documentAttachments" => {
                let name = crate::attachments::file_name(self, pos);
                let size = crate::attachments::content(self, pos).len();
                put(&mut rec, t, "fileName", Val::Str(name));
                put(&mut rec, t, "byteSize", Val::Int(size as i64));
                let (parent_type, ..) = crate::attachments::parent(self, pos);
                put(&mut rec, t, "parentType", Val::Enum(parent_type));
                put(
                    &mut rec,
                    t,
                    "parentId",
                    Val::Guid(crate::attachments::parent_id(self, pos)),
                );
                put(&mut rec, t, "documentFlowSales", Val::Bool(true));
            }
            doc if line_set(doc).is_some() => self.doc_header(t, &mut rec, &mut r, doc, pos, lines),
            _ => {}
        }
        Some(rec)
    }

    fn doc_header(
        &self,
        t: &EntityType,
        rec: &mut Record,
        r: &mut ChaCha8Rng,
        set: &str,
        pos: u64,
        lines: &[Record],
    ) {
        let purchase = set.starts_with("purchase");
        let lmd = match rec.get(t, "lastModifiedDateTime") {
            Val::Dt(x) => *x,
            _ => BASE_MIN_LAST_MODIFIED,
        };
        let day = date_of(lmd - i64::from(r.gen_range(0..20u32)) * 86_400_000);
        let roll: u32 = r.gen_range(0..100);
        let (status, posted) = match set {
            // salesInvoices holds drafts and posted invoices (BC's "invoice entity aggregate").
            "salesInvoices" | "purchaseInvoices" => match roll {
                0..=9 => ("Draft", false),
                10..=11 => ("In_x0020_Review", false),
                12..=41 => ("Open", true),
                42..=91 => ("Paid", true),
                92..=95 => ("Canceled", true),
                _ => ("Corrective", true),
            },
            "salesCreditMemos" => match roll {
                0..=19 => ("Draft", false),
                20..=59 => ("Open", true),
                _ => ("Paid", true),
            },
            "salesQuotes" => (["Draft", "Sent", "Accepted"][roll as usize % 3], false),
            "purchaseCreditMemos" => match roll {
                0..=19 => ("Draft", false),
                20..=59 => ("Open", true),
                _ => ("Paid", true),
            },
            // Shipments and receipts are posted documents without a status.
            "salesShipments" | "purchaseReceipts" => ("_x0020_", true),
            _ => (
                ["Draft", "In_x0020_Review", "Open"][roll as usize % 3],
                false,
            ),
        };
        // Number series: drafts carry the unposted series (S-INV…), posted documents
        // the posted series (103001…), as in the CRONUS demo company.
        let prefix = match set {
            "salesInvoices" => {
                if posted {
                    ""
                } else {
                    "S-INV"
                }
            }
            "salesOrders" => "S-ORD",
            "salesShipments" => "S-SHPT",
            "purchaseReceipts" => "P-RCPT",
            "purchaseCreditMemos" => {
                if posted {
                    "PP-CR"
                } else {
                    "P-CR"
                }
            }
            "salesQuotes" => "S-QUO",
            "salesCreditMemos" => {
                if posted {
                    "PS-CR"
                } else {
                    "S-CR"
                }
            }
            "purchaseInvoices" => {
                if posted {
                    "PP-INV"
                } else {
                    "P-INV"
                }
            }
            _ => "P-ORD",
        };
        let base = if prefix.is_empty() { 103_001 } else { 100_001 };
        put(
            rec,
            t,
            "number",
            Val::Str(format!("{prefix}{}", base + pos)),
        );
        put(rec, t, "status", Val::Enum(status));
        for p in [
            "invoiceDate",
            "orderDate",
            "documentDate",
            "creditMemoDate",
            "postingDate",
            "shipmentDate",
        ] {
            put(rec, t, p, Val::Date(day));
        }
        let due = day.checked_add_days(Days::new(30)).unwrap_or(day);
        put(rec, t, "dueDate", Val::Date(due));
        put(rec, t, "validUntilDate", Val::Date(due));
        if purchase {
            let p = self.party(8, r.gen_range(0..self.base_count("vendors")));
            put(
                rec,
                t,
                "vendorInvoiceNumber",
                Val::Str(format!("VI-{}", 5000 + pos)),
            );
            for (f, v) in [("vendorId", &p.id), ("payToVendorId", &p.id)] {
                put(rec, t, f, Val::Guid(*v));
            }
            for f in ["vendorNumber", "payToVendorNumber"] {
                put(rec, t, f, Val::Str(p.number.clone()));
            }
            for f in ["vendorName", "payToName", "shipToName"] {
                put(rec, t, f, Val::Str(p.name.clone()));
            }
            put(rec, t, "payToContact", Val::Str(p.contact.clone()));
            for pre in ["buyFrom", "payTo"] {
                address(rec, t, pre, &p);
            }
            put(
                rec,
                t,
                "purchaser",
                Val::S(SALES[pos as usize % SALES.len()]),
            );
        } else {
            let p = self.party(7, r.gen_range(0..self.base_count("customers")));
            for f in ["customerId", "billToCustomerId"] {
                put(rec, t, f, Val::Guid(p.id));
            }
            for f in ["customerNumber", "billToCustomerNumber"] {
                put(rec, t, f, Val::Str(p.number.clone()));
            }
            for f in ["customerName", "billToName", "shipToName"] {
                put(rec, t, f, Val::Str(p.name.clone()));
            }
            put(rec, t, "shipToContact", Val::Str(p.contact.clone()));
            for pre in ["sellTo", "billTo", "shipTo"] {
                address(rec, t, pre, &p);
            }
            put(
                rec,
                t,
                "salesperson",
                Val::S(SALES[pos as usize % SALES.len()]),
            );
            put(
                rec,
                t,
                "externalDocumentNumber",
                Val::Str(if pos.is_multiple_of(3) {
                    format!("PO-{}", 70_000 + pos)
                } else {
                    String::new()
                }),
            );
            put(
                rec,
                t,
                "email",
                Val::Str(format!("ap{}@example.com", pos % 1000)),
            );
        }
        put(rec, t, "currencyCode", Val::S(self.currency()));
        put(
            rec,
            t,
            "shortcutDimension1Code",
            Val::S(if purchase { "ADM" } else { "SALES" }),
        );
        put(rec, t, "discountAppliedBeforeTax", Val::Bool(true));
        let lt = Schema::get()
            .by_set(line_set(set).unwrap_or("salesInvoiceLines"))
            .expect("line type");
        let (ex, tax, inc) = totals(lt, lines);
        put(rec, t, "totalAmountExcludingTax", Val::Dec(ex));
        put(rec, t, "totalTaxAmount", Val::Dec(tax));
        put(rec, t, "totalAmountIncludingTax", Val::Dec(inc));
        let remaining = if status == "Open" { inc } else { 0.0 };
        put(rec, t, "remainingAmount", Val::Dec(remaining));
    }
}

/// Sums of (amountExcludingTax, totalTaxAmount, amountIncludingTax) of lines.
pub fn totals(t: &EntityType, lines: &[Record]) -> (f64, f64, f64) {
    let mut cents = [0i64; 3];
    for l in lines {
        for (i, f) in ["amountExcludingTax", "totalTaxAmount", "amountIncludingTax"]
            .iter()
            .enumerate()
        {
            // Shipment and receipt lines carry quantities, not amounts.
            let v = t.idx(f).and_then(|j| l.vals[j].as_f64()).unwrap_or(0.0);
            cents[i] += (v * 100.0).round() as i64;
        }
    }
    (
        cents[0] as f64 / 100.0,
        cents[1] as f64 / 100.0,
        cents[2] as f64 / 100.0,
    )
}

/// Company display name of company `i` (non-ASCII on purpose).
pub fn company_name(i: usize) -> String {
    match i {
        0 => "CRONUS USA, Inc.".into(),
        1 => "Contoso Müller GmbH".into(),
        n => format!("Fabrikam Société {n}"),
    }
}

/// Sets a property if the type has it (one generator serves several doc types).
pub fn put(rec: &mut Record, t: &EntityType, name: &str, v: Val) {
    if let Some(i) = t.idx(name) {
        rec.vals[i] = v;
    }
}

fn address(rec: &mut Record, t: &EntityType, pre: &str, p: &Party) {
    put(
        rec,
        t,
        &format!("{pre}AddressLine1"),
        Val::Str(p.address.clone()),
    );
    put(rec, t, &format!("{pre}City"), Val::S(p.city));
    put(rec, t, &format!("{pre}Country"), Val::S(p.country));
    put(rec, t, &format!("{pre}State"), Val::S(p.state));
    put(rec, t, &format!("{pre}PostCode"), Val::Str(p.post.clone()));
}

fn date_of(ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .date_naive()
}

struct Party {
    id: Uuid,
    number: String,
    name: String,
    address: String,
    city: &'static str,
    state: &'static str,
    country: &'static str,
    post: String,
    contact: String,
}

struct ItemBasics {
    id: Uuid,
    number: String,
    desc: String,
    price: f64,
    uom: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx {
            seed: 42,
            env: 0,
            company: 1,
            scale: 1000,
            custom_count: 5,
        }
    }

    #[test]
    fn ids_sort_by_position_and_decode() {
        let c = ctx();
        let a = c.id(1, 9, 0).to_string();
        let b = c.id(1, 10, 0).to_string();
        assert!(a < b);
        assert_eq!(c.decode(&c.id(1, 123_456, 0)), Some((1, 123_456, 0)));
        let other = Ctx { env: 1, ..c };
        assert_eq!(c.decode(&other.id(1, 5, 0)), None);
    }

    #[test]
    fn invoice_totals_equal_sum_of_lines_and_customer_exists() {
        let c = ctx();
        let t = Schema::get().by_set("salesInvoices").unwrap();
        for pos in 0..50 {
            let lines: Vec<Record> = (0..c.line_count("salesInvoices", pos))
                .map(|i| c.line("salesInvoices", pos, i))
                .collect();
            let inv = c.record("salesInvoices", pos, &lines).unwrap();
            let lt = Schema::get().by_set("salesInvoiceLines").unwrap();
            let (ex, _, inc) = totals(lt, &lines);
            assert_eq!(inv.get(t, "totalAmountExcludingTax"), &Val::Dec(ex));
            assert_eq!(inv.get(t, "totalAmountIncludingTax"), &Val::Dec(inc));
            let Val::Guid(cust) = inv.get(t, "customerId") else {
                panic!()
            };
            let (code, cpos, _) = c.decode(cust).unwrap();
            assert_eq!(code, set_code("customers").unwrap());
            assert!(cpos < c.base_count("customers"));
        }
    }
}
