//! Microsoft's standard permission sets, expanded to the read permissions
//! they grant on the tables behind bcq's catalog, as the emulator's
//! `expandedPermissionSets` serves them.
//!
//! The grants follow the W1 sets of the Base and System Applications
//! (microsoft/BCApps, `src/Layers/W1/BaseApp/Permissions/*.permissionset.al`,
//! included sets resolved; `docs/bc-permissions.md` names each source):
//! `R` is direct read (`Yes`), `r` indirect read (`Indirect`), `-` none. Only
//! the tables bcq reads are listed (a real expansion lists hundreds more);
//! `SUPER` is one row for every table (object id 0), as BC expands
//! `tabledata * = RIMD`. Insert, modify, delete and execute are left blank
//! except on `SUPER`: bcq reads only `readPermission`.

/// A table of BC's Base Application: id and name.
pub type Table = (u32, &'static str);

/// The tables behind bcq's catalog (documents, their lines, the API
/// pages' aggregate tables, master data, ledgers).
pub const TABLES: &[Table] = &[
    (15, "G/L Account"),
    (17, "G/L Entry"),
    (18, "Customer"),
    (23, "Vendor"),
    (27, "Item"),
    (32, "Item Ledger Entry"),
    (36, "Sales Header"),
    (37, "Sales Line"),
    (38, "Purchase Header"),
    (39, "Purchase Line"),
    (79, "Company Information"),
    (110, "Sales Shipment Header"),
    (111, "Sales Shipment Line"),
    (112, "Sales Invoice Header"),
    (113, "Sales Invoice Line"),
    (114, "Sales Cr.Memo Header"),
    (115, "Sales Cr.Memo Line"),
    (120, "Purch. Rcpt. Header"),
    (121, "Purch. Rcpt. Line"),
    (122, "Purch. Inv. Header"),
    (123, "Purch. Inv. Line"),
    (124, "Purch. Cr. Memo Hdr."),
    (125, "Purch. Cr. Memo Line"),
    (167, "Job"),
    (270, "Bank Account"),
    (1173, "Document Attachment"),
    (5050, "Contact"),
    (5200, "Employee"),
    (5475, "Sales Invoice Entity Aggregate"),
    (5477, "Purch. Inv. Entity Aggregate"),
    (5495, "Sales Order Entity Buffer"),
    (5496, "Purchase Order Entity Buffer"),
    (5505, "Sales Quote Entity Buffer"),
    (5507, "Sales Cr. Memo Entity Buffer"),
    (5508, "Purch. Cr. Memo Entity Buffer"),
];

/// A standard permission set: role id, name, and one grant letter per
/// entry of [`TABLES`] (`R`, `r` or `-`), or `*` for every table.
pub struct StandardSet {
    /// `Role ID`, e.g. `D365 BASIC`.
    pub role_id: &'static str,
    /// `Name`, e.g. `Dynamics 365 Basic`.
    pub name: &'static str,
    /// Grants in [`TABLES`] order, or `"*"` for all tables (object id 0).
    pub grants: &'static str,
}

/// The sets the emulator knows. Grants, in [`TABLES`] order:
/// GLA GLE Cus Ven Itm ILE SH SL PH PL CI | SSH SSL SIH SIL SCH SCL PRH PRL PIH PIL PCH PCL |
/// Job Bank DocAtt Contact Emp | aggregates 5475 5477 5495 5496 5505 5507 5508.
pub const STANDARD: &[StandardSet] = &[
    StandardSet {
        role_id: "SUPER",
        name: "This role has all permissions.",
        grants: "*",
    },
    StandardSet {
        role_id: "D365 READ",
        name: "Dynamics 365 read access",
        grants: "RRRRRRRRRRR RRRRRRRRRRRR RRRRR RRRRRRR",
    },
    StandardSet {
        role_id: "D365 BUS FULL ACCESS",
        name: "Dynamics 365 Full bus. acc.",
        grants: "RRRRRRRRRRR RRRRRRRRRRRR RRRRR RRRRRRR",
    },
    StandardSet {
        role_id: "D365 BASIC",
        name: "Dynamics 365 Basic access",
        grants: "rrRRRRRRRRR --r--------- --RR- RRRRRRR",
    },
    StandardSet {
        role_id: "D365 SALES DOC, EDIT",
        name: "Dyn. 365 Create sales trans.",
        grants: "R-R---RR--R RRRRRR------ -R-RR -------",
    },
    StandardSet {
        role_id: "D365 PURCH DOC, EDIT",
        name: "Dyn. 365 Create purch. trans.",
        grants: "R--R----RRR ------RRRRRR -R-RR -------",
    },
    StandardSet {
        role_id: "D365 ACC. RECEIVABLE",
        name: "Dyn. 365 Accounts receivable",
        grants: "RRR--RRRRRR RRRRRR-R---- -R-RR -------",
    },
    StandardSet {
        role_id: "D365 ACC. PAYABLE",
        name: "Dyn. 365 Accounts payable",
        grants: "RR-R-RRRRRR -R-R--RRRRRR -R-RR -------",
    },
    StandardSet {
        role_id: "SECURITY",
        name: "Assign permissions to users",
        grants: "----------- ------------ ----- -------",
    },
];

/// The read grant of `set` on the `i`-th table of [`TABLES`]: `Yes`,
/// `Indirect`, or `None`.
pub fn read_of(set: &StandardSet, i: usize) -> Option<&'static str> {
    if set.grants == "*" {
        return Some("Yes");
    }
    match set.grants.chars().filter(|c| !c.is_whitespace()).nth(i) {
        Some('R') => Some("Yes"),
        Some('r') => Some("Indirect"),
        _ => None,
    }
}

/// The standard set named `role_id`.
pub fn standard(role_id: &str) -> Option<&'static StandardSet> {
    STANDARD.iter().find(|s| s.role_id == role_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_set_names_every_table_once() {
        for set in STANDARD.iter().filter(|s| s.grants != "*") {
            let letters: Vec<char> = set.grants.chars().filter(|c| !c.is_whitespace()).collect();
            assert_eq!(letters.len(), TABLES.len(), "{}", set.role_id);
            assert!(letters.iter().all(|c| matches!(c, 'R' | 'r' | '-')));
        }
    }

    #[test]
    fn the_sets_grant_what_microsofts_do() {
        let at = |id: u32| TABLES.iter().position(|t| t.0 == id).unwrap();
        let basic = standard("D365 BASIC").unwrap();
        // Indirect read on posted sales invoices, none on posted purchase ones.
        assert_eq!(read_of(basic, at(112)), Some("Indirect"));
        assert_eq!(read_of(basic, at(122)), None);
        assert_eq!(read_of(basic, at(5475)), Some("Yes"));
        let sales = standard("D365 SALES DOC, EDIT").unwrap();
        assert_eq!(read_of(sales, at(112)), Some("Yes"));
        assert_eq!(read_of(sales, at(122)), None);
        let purch = standard("D365 PURCH DOC, EDIT").unwrap();
        assert_eq!(read_of(purch, at(122)), Some("Yes"));
        assert_eq!(read_of(purch, at(112)), None);
        assert_eq!(read_of(standard("SUPER").unwrap(), at(5200)), Some("Yes"));
    }
}
