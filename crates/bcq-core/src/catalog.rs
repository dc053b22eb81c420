//! The entity catalog: what bcq knows about each BC entity, as data.
//!
//! A [`EntitySpec`] says where the entity lives (entity set, what to
//! expand), how its document reads (title, fields, lines), where its
//! citation points (web client page) and which typed attributes it carries.
//! The renderer in [`crate::render`] is generic over it: adding an entity is
//! adding a table entry, not writing code.

/// How a field's value is read from BC's JSON and shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A string.
    Text,
    /// A BC enum (`In_x0020_Review` reads as `In Review`).
    Enum,
    /// An Edm.Date.
    Date,
    /// An Edm.DateTimeOffset.
    DateTime,
    /// A money amount, shown with two decimals and the document currency.
    Amount,
    /// A quantity or other number.
    Number,
    /// A yes/no flag.
    Bool,
}

/// One labelled value of the body. Several `names` are joined with ", "
/// (addresses), skipping blanks.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// What a reader sees ("Due date").
    pub label: &'static str,
    /// The BC property or properties.
    pub names: &'static [&'static str],
    /// How to read and show it.
    pub kind: FieldKind,
}

/// The type of a custom attribute, as declared on the Q index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrKind {
    /// STRING.
    String,
    /// NUMBER, from a BC decimal rounded to a whole number.
    Number,
    /// DATE, from an Edm.Date or Edm.DateTimeOffset.
    Date,
}

/// A typed custom attribute taken from one BC property.
#[derive(Clone, Copy, Debug)]
pub struct AttrSpec {
    /// Attribute name on the Q index (≤ 30 characters, declared by `index-schema`).
    pub name: &'static str,
    /// The BC property.
    pub field: &'static str,
    /// Its type.
    pub kind: AttrKind,
}

/// Which web client page a record opens in.
#[derive(Clone, Copy, Debug)]
pub enum PageRule {
    /// Always the same page.
    Fixed(u32),
    /// A draft opens in one page, a posted document in another: BC's
    /// `salesInvoices` holds both, under the same entity set.
    ByStatus {
        /// The status property.
        field: &'static str,
        /// Status values (wire form) of drafts.
        draft_values: &'static [&'static str],
        /// The page of a draft.
        draft_page: u32,
        /// The page of a posted document.
        posted_page: u32,
    },
}

/// Document lines expanded into their header (`$expand=salesInvoiceLines`).
#[derive(Clone, Copy, Debug)]
pub struct LinesSpec {
    /// The navigation property.
    pub nav: &'static str,
    /// The columns of the lines table.
    pub columns: &'static [Field],
}

/// Everything bcq knows about one BC entity set.
#[derive(Clone, Copy, Debug)]
pub struct EntitySpec {
    /// The API v2.0 entity set (`salesInvoices`).
    pub entity_set: &'static str,
    /// One record, as a person says it ("Sales Invoice").
    pub singular: &'static str,
    /// The `_category` attribute ("Sales Invoices", as the sample).
    pub category: &'static str,
    /// The property holding the record's number ("No." in the web client).
    pub number_field: &'static str,
    /// The web client caption of the number field, for the citation's
    /// filter (`No.`, `Entry No.`); `None` when the page needs no filter.
    pub number_caption: Option<&'static str>,
    /// The property naming the other party, shown after the number in titles.
    pub party_field: Option<&'static str>,
    /// The citation's page.
    pub page: PageRule,
    /// Lines to expand into the document.
    pub lines: Option<LinesSpec>,
    /// Whether the entity has `lastModifiedDateTime` (line and report-like
    /// entities do not, and filtering on it there is a 400).
    pub has_last_modified: bool,
    /// The property used for `_created_at`.
    pub created_field: Option<&'static str>,
    /// The property holding the currency code of amounts.
    pub currency_field: Option<&'static str>,
    /// The body's fields, in reading order.
    pub fields: &'static [Field],
    /// Typed custom attributes.
    pub attributes: &'static [AttrSpec],
    /// Whether BC renders a PDF of the record (`pdfDocument`).
    pub pdf: bool,
}

impl EntitySpec {
    /// Every property the document of a record is made of (body, title,
    /// citation, attributes, cursor): what `$select` asks BC for, so that
    /// nothing else is sent, parsed or held.
    pub fn selected_fields(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = vec!["id", self.number_field];
        if self.has_last_modified {
            out.push("lastModifiedDateTime");
        }
        out.extend(self.party_field);
        out.extend(self.created_field);
        out.extend(self.currency_field);
        if let PageRule::ByStatus { field, .. } = self.page {
            out.push(field);
        }
        out.extend(self.fields.iter().flat_map(|f| f.names.iter().copied()));
        out.extend(self.attributes.iter().map(|a| a.field));
        let mut seen = std::collections::HashSet::new();
        out.retain(|n| seen.insert(*n));
        out
    }

    /// `$expand` of the lines with only the columns shown
    /// (`salesInvoiceLines($select=lineType,...)`).
    pub fn expand(&self) -> Option<String> {
        self.lines.map(|l| {
            let mut cols: Vec<&str> = Vec::new();
            for c in l.columns.iter().flat_map(|c| c.names.iter().copied()) {
                if !cols.contains(&c) {
                    cols.push(c);
                }
            }
            format!("{}($select={})", l.nav, cols.join(","))
        })
    }
}

const fn f(label: &'static str, name: &'static [&'static str], kind: FieldKind) -> Field {
    Field {
        label,
        names: name,
        kind,
    }
}

const fn a(name: &'static str, field: &'static str, kind: AttrKind) -> AttrSpec {
    AttrSpec { name, field, kind }
}

use FieldKind::*;

/// Sales invoices: drafts (page 43) and posted invoices (page 132) share the entity set.
pub const SALES_INVOICES: EntitySpec = EntitySpec {
    entity_set: "salesInvoices",
    singular: "Sales Invoice",
    category: "Sales Invoices",
    number_field: "number",
    number_caption: Some("No."),
    party_field: Some("customerName"),
    page: PageRule::ByStatus {
        field: "status",
        draft_values: &["Draft", "In_x0020_Review", "_x0020_"],
        draft_page: 43,
        posted_page: 132,
    },
    lines: Some(LinesSpec {
        nav: "salesInvoiceLines",
        columns: &[
            f("Type", &["lineType"], Enum),
            f("No.", &["lineObjectNumber"], Text),
            f("Description", &["description", "description2"], Text),
            f("Quantity", &["quantity"], Number),
            f("Unit", &["unitOfMeasureCode"], Text),
            f("Unit price", &["unitPrice"], Amount),
            f("Discount", &["discountAmount"], Amount),
            f("Tax %", &["taxPercent"], Number),
            f("Amount excl. tax", &["amountExcludingTax"], Amount),
            f("Amount incl. tax", &["amountIncludingTax"], Amount),
        ],
    }),
    has_last_modified: true,
    created_field: Some("invoiceDate"),
    currency_field: Some("currencyCode"),
    fields: &[
        f("Invoice number", &["number"], Text),
        f("Status", &["status"], Enum),
        f("Customer", &["customerName"], Text),
        f("Customer number", &["customerNumber"], Text),
        f("Bill-to", &["billToName"], Text),
        f("Bill-to customer number", &["billToCustomerNumber"], Text),
        f("Bill-to address", BILL_TO_ADDRESS, Text),
        f("Sell-to address", SELL_TO_ADDRESS, Text),
        f("Ship-to", &["shipToName", "shipToContact"], Text),
        f("Ship-to address", SHIP_TO_ADDRESS, Text),
        f("Invoice date", &["invoiceDate"], Date),
        f("Posting date", &["postingDate"], Date),
        f("Due date", &["dueDate"], Date),
        f("Promised pay date", &["promisedPayDate"], Date),
        f(
            "External document number",
            &["externalDocumentNumber"],
            Text,
        ),
        f(
            "Customer purchase order",
            &["customerPurchaseOrderReference"],
            Text,
        ),
        f("Order number", &["orderNumber"], Text),
        f("Salesperson", &["salesperson"], Text),
        f("Currency", &["currencyCode"], Text),
        f("Prices include tax", &["pricesIncludeTax"], Bool),
        f("Discount", &["discountAmount"], Amount),
        f("Total excluding tax", &["totalAmountExcludingTax"], Amount),
        f("Total tax", &["totalTaxAmount"], Amount),
        f("Total including tax", &["totalAmountIncludingTax"], Amount),
        f("Remaining amount", &["remainingAmount"], Amount),
        f("Dispute status", &["disputeStatus"], Text),
        f("Phone", &["phoneNumber"], Text),
        f("Email", &["email"], Text),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: &[
        a("bc_number", "number", AttrKind::String),
        a("bc_customer_number", "customerNumber", AttrKind::String),
        a("bc_customer_name", "customerName", AttrKind::String),
        a("bc_status", "status", AttrKind::String),
        a("bc_currency", "currencyCode", AttrKind::String),
        a(
            "bc_amount_incl_tax",
            "totalAmountIncludingTax",
            AttrKind::Number,
        ),
        a(
            "bc_amount_excl_tax",
            "totalAmountExcludingTax",
            AttrKind::Number,
        ),
        a("bc_remaining_amount", "remainingAmount", AttrKind::Number),
        a("bc_due_date", "dueDate", AttrKind::Date),
        a("bc_document_date", "invoiceDate", AttrKind::Date),
    ],
    pdf: true,
};

const SALES_LINE_COLUMNS: &[Field] = &[
    f("Type", &["lineType"], Enum),
    f("No.", &["lineObjectNumber"], Text),
    f("Description", &["description", "description2"], Text),
    f("Quantity", &["quantity"], Number),
    f("Unit", &["unitOfMeasureCode"], Text),
    f("Unit price", &["unitPrice"], Amount),
    f("Discount", &["discountAmount"], Amount),
    f("Amount excl. tax", &["amountExcludingTax"], Amount),
    f("Amount incl. tax", &["amountIncludingTax"], Amount),
];

/// The bill-to address of a sales document, in reading order.
const BILL_TO_ADDRESS: &[&str] = &[
    "billToAddressLine1",
    "billToAddressLine2",
    "billToPostCode",
    "billToCity",
    "billToState",
    "billToCountry",
];

/// The sell-to address of a sales document, in reading order.
const SELL_TO_ADDRESS: &[&str] = &[
    "sellToAddressLine1",
    "sellToAddressLine2",
    "sellToPostCode",
    "sellToCity",
    "sellToState",
    "sellToCountry",
];

/// The ship-to address of a document, in reading order.
const SHIP_TO_ADDRESS: &[&str] = &[
    "shipToAddressLine1",
    "shipToAddressLine2",
    "shipToPostCode",
    "shipToCity",
    "shipToState",
    "shipToCountry",
];

/// The postal address of a customer, vendor or contact, in reading order.
const POSTAL_ADDRESS: &[&str] = &[
    "addressLine1",
    "addressLine2",
    "postalCode",
    "city",
    "state",
    "country",
];

const SALES_DOC_ATTRS: &[AttrSpec] = &[
    a("bc_number", "number", AttrKind::String),
    a("bc_customer_number", "customerNumber", AttrKind::String),
    a("bc_customer_name", "customerName", AttrKind::String),
    a("bc_status", "status", AttrKind::String),
    a("bc_currency", "currencyCode", AttrKind::String),
    a(
        "bc_amount_incl_tax",
        "totalAmountIncludingTax",
        AttrKind::Number,
    ),
    a(
        "bc_amount_excl_tax",
        "totalAmountExcludingTax",
        AttrKind::Number,
    ),
];

/// Sales orders (page 42).
pub const SALES_ORDERS: EntitySpec = EntitySpec {
    entity_set: "salesOrders",
    singular: "Sales Order",
    category: "Sales Orders",
    number_field: "number",
    number_caption: Some("No."),
    party_field: Some("customerName"),
    page: PageRule::Fixed(42),
    lines: Some(LinesSpec {
        nav: "salesOrderLines",
        columns: SALES_LINE_COLUMNS,
    }),
    has_last_modified: true,
    created_field: Some("orderDate"),
    currency_field: Some("currencyCode"),
    fields: &[
        f("Order number", &["number"], Text),
        f("Status", &["status"], Enum),
        f("Customer", &["customerName"], Text),
        f("Customer number", &["customerNumber"], Text),
        f("Bill-to", &["billToName"], Text),
        f("Bill-to address", BILL_TO_ADDRESS, Text),
        f("Ship-to", &["shipToName", "shipToContact"], Text),
        f("Order date", &["orderDate"], Date),
        f("Requested delivery date", &["requestedDeliveryDate"], Date),
        f(
            "External document number",
            &["externalDocumentNumber"],
            Text,
        ),
        f("Salesperson", &["salesperson"], Text),
        f("Currency", &["currencyCode"], Text),
        f("Fully shipped", &["fullyShipped"], Bool),
        f("Total excluding tax", &["totalAmountExcludingTax"], Amount),
        f("Total tax", &["totalTaxAmount"], Amount),
        f("Total including tax", &["totalAmountIncludingTax"], Amount),
        f("Phone", &["phoneNumber"], Text),
        f("Email", &["email"], Text),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: SALES_DOC_ATTRS,
    pdf: false,
};

/// Sales quotes (page 41).
pub const SALES_QUOTES: EntitySpec = EntitySpec {
    entity_set: "salesQuotes",
    singular: "Sales Quote",
    category: "Sales Quotes",
    number_field: "number",
    number_caption: Some("No."),
    party_field: Some("customerName"),
    page: PageRule::Fixed(41),
    lines: Some(LinesSpec {
        nav: "salesQuoteLines",
        columns: SALES_LINE_COLUMNS,
    }),
    has_last_modified: true,
    created_field: Some("documentDate"),
    currency_field: Some("currencyCode"),
    fields: &[
        f("Quote number", &["number"], Text),
        f("Status", &["status"], Enum),
        f("Customer", &["customerName"], Text),
        f("Customer number", &["customerNumber"], Text),
        f("Bill-to address", BILL_TO_ADDRESS, Text),
        f("Document date", &["documentDate"], Date),
        f("Valid until", &["validUntilDate"], Date),
        f("Sent", &["sentDate"], DateTime),
        f("Accepted", &["acceptedDate"], Date),
        f("Salesperson", &["salesperson"], Text),
        f("Currency", &["currencyCode"], Text),
        f("Total excluding tax", &["totalAmountExcludingTax"], Amount),
        f("Total tax", &["totalTaxAmount"], Amount),
        f("Total including tax", &["totalAmountIncludingTax"], Amount),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: SALES_DOC_ATTRS,
    pdf: true,
};

/// Sales credit memos: drafts (page 44) and posted ones (page 134).
pub const SALES_CREDIT_MEMOS: EntitySpec = EntitySpec {
    entity_set: "salesCreditMemos",
    singular: "Sales Credit Memo",
    category: "Sales Credit Memos",
    number_field: "number",
    number_caption: Some("No."),
    party_field: Some("customerName"),
    page: PageRule::ByStatus {
        field: "status",
        draft_values: &["Draft", "In_x0020_Review", "_x0020_"],
        draft_page: 44,
        posted_page: 134,
    },
    lines: Some(LinesSpec {
        nav: "salesCreditMemoLines",
        columns: SALES_LINE_COLUMNS,
    }),
    has_last_modified: true,
    created_field: Some("creditMemoDate"),
    currency_field: Some("currencyCode"),
    fields: &[
        f("Credit memo number", &["number"], Text),
        f("Status", &["status"], Enum),
        f("Customer", &["customerName"], Text),
        f("Customer number", &["customerNumber"], Text),
        f("Bill-to address", BILL_TO_ADDRESS, Text),
        f("Credit memo date", &["creditMemoDate"], Date),
        f("Posting date", &["postingDate"], Date),
        f("Due date", &["dueDate"], Date),
        f("Applies to invoice", &["invoiceNumber"], Text),
        f(
            "External document number",
            &["externalDocumentNumber"],
            Text,
        ),
        f("Salesperson", &["salesperson"], Text),
        f("Currency", &["currencyCode"], Text),
        f("Total excluding tax", &["totalAmountExcludingTax"], Amount),
        f("Total tax", &["totalTaxAmount"], Amount),
        f("Total including tax", &["totalAmountIncludingTax"], Amount),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: SALES_DOC_ATTRS,
    pdf: true,
};

/// Purchase invoices: drafts (page 51) and posted ones (page 138).
pub const PURCHASE_INVOICES: EntitySpec = EntitySpec {
    entity_set: "purchaseInvoices",
    singular: "Purchase Invoice",
    category: "Purchase Invoices",
    number_field: "number",
    number_caption: Some("No."),
    party_field: Some("vendorName"),
    page: PageRule::ByStatus {
        field: "status",
        draft_values: &["Draft", "In_x0020_Review", "_x0020_"],
        draft_page: 51,
        posted_page: 138,
    },
    lines: Some(LinesSpec {
        nav: "purchaseInvoiceLines",
        columns: &[
            f("Type", &["lineType"], Enum),
            f("No.", &["lineObjectNumber"], Text),
            f("Description", &["description", "description2"], Text),
            f("Quantity", &["quantity"], Number),
            f("Unit", &["unitOfMeasureCode"], Text),
            f("Unit cost", &["unitCost"], Amount),
            f("Amount excl. tax", &["amountExcludingTax"], Amount),
            f("Amount incl. tax", &["amountIncludingTax"], Amount),
        ],
    }),
    has_last_modified: true,
    created_field: Some("invoiceDate"),
    currency_field: Some("currencyCode"),
    fields: &[
        f("Invoice number", &["number"], Text),
        f("Status", &["status"], Enum),
        f("Vendor", &["vendorName"], Text),
        f("Vendor number", &["vendorNumber"], Text),
        f("Vendor's invoice number", &["vendorInvoiceNumber"], Text),
        f("Invoice date", &["invoiceDate"], Date),
        f("Posting date", &["postingDate"], Date),
        f("Due date", &["dueDate"], Date),
        f("Purchaser", &["purchaser"], Text),
        f("Currency", &["currencyCode"], Text),
        f("Total excluding tax", &["totalAmountExcludingTax"], Amount),
        f("Total tax", &["totalTaxAmount"], Amount),
        f("Total including tax", &["totalAmountIncludingTax"], Amount),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: &[
        a("bc_number", "number", AttrKind::String),
        a("bc_vendor_number", "vendorNumber", AttrKind::String),
        a("bc_vendor_name", "vendorName", AttrKind::String),
        a("bc_status", "status", AttrKind::String),
        a("bc_currency", "currencyCode", AttrKind::String),
        a(
            "bc_amount_incl_tax",
            "totalAmountIncludingTax",
            AttrKind::Number,
        ),
        a("bc_due_date", "dueDate", AttrKind::Date),
        a("bc_document_date", "invoiceDate", AttrKind::Date),
    ],
    pdf: true,
};

/// Customers (Customer Card, page 21).
pub const CUSTOMERS: EntitySpec = EntitySpec {
    entity_set: "customers",
    singular: "Customer",
    category: "Customers",
    number_field: "number",
    number_caption: Some("No."),
    party_field: Some("displayName"),
    page: PageRule::Fixed(21),
    lines: None,
    has_last_modified: true,
    created_field: None,
    currency_field: Some("currencyCode"),
    fields: &[
        f("Customer number", &["number"], Text),
        f("Name", &["displayName"], Text),
        f("Type", &["type"], Enum),
        f("Address", POSTAL_ADDRESS, Text),
        f("Phone", &["phoneNumber"], Text),
        f("Email", &["email"], Text),
        f("Website", &["website"], Text),
        f("Salesperson", &["salespersonCode"], Text),
        f("Balance due", &["balanceDue"], Amount),
        f("Credit limit", &["creditLimit"], Amount),
        f("Currency", &["currencyCode"], Text),
        f("Tax registration number", &["taxRegistrationNumber"], Text),
        f("Blocked", &["blocked"], Enum),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: &[
        a("bc_number", "number", AttrKind::String),
        a("bc_customer_number", "number", AttrKind::String),
        a("bc_customer_name", "displayName", AttrKind::String),
        a("bc_balance", "balanceDue", AttrKind::Number),
    ],
    pdf: false,
};

/// Vendors (Vendor Card, page 26).
pub const VENDORS: EntitySpec = EntitySpec {
    entity_set: "vendors",
    singular: "Vendor",
    category: "Vendors",
    number_field: "number",
    number_caption: Some("No."),
    party_field: Some("displayName"),
    page: PageRule::Fixed(26),
    lines: None,
    has_last_modified: true,
    created_field: None,
    currency_field: Some("currencyCode"),
    fields: &[
        f("Vendor number", &["number"], Text),
        f("Name", &["displayName"], Text),
        f("Address", POSTAL_ADDRESS, Text),
        f("Phone", &["phoneNumber"], Text),
        f("Email", &["email"], Text),
        f("Website", &["website"], Text),
        f("Balance", &["balance"], Amount),
        f("Currency", &["currencyCode"], Text),
        f("Tax registration number", &["taxRegistrationNumber"], Text),
        f("Blocked", &["blocked"], Enum),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: &[
        a("bc_number", "number", AttrKind::String),
        a("bc_vendor_number", "number", AttrKind::String),
        a("bc_vendor_name", "displayName", AttrKind::String),
        a("bc_balance", "balance", AttrKind::Number),
    ],
    pdf: false,
};

/// Items (Item Card, page 30).
pub const ITEMS: EntitySpec = EntitySpec {
    entity_set: "items",
    singular: "Item",
    category: "Items",
    number_field: "number",
    number_caption: Some("No."),
    party_field: Some("displayName"),
    page: PageRule::Fixed(30),
    lines: None,
    has_last_modified: true,
    created_field: None,
    currency_field: None,
    fields: &[
        f("Item number", &["number"], Text),
        f("Description", &["displayName", "displayName2"], Text),
        f("Type", &["type"], Enum),
        f("Category", &["itemCategoryCode"], Text),
        f("Unit of measure", &["baseUnitOfMeasureCode"], Text),
        f("Unit price", &["unitPrice"], Amount),
        f("Unit cost", &["unitCost"], Amount),
        f("Quantity in stock", &["inventory"], Number),
        f("Barcode (GTIN)", &["gtin"], Text),
        f("Blocked", &["blocked"], Bool),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: &[
        a("bc_number", "number", AttrKind::String),
        a("bc_item_category", "itemCategoryCode", AttrKind::String),
        a("bc_inventory", "inventory", AttrKind::Number),
    ],
    pdf: false,
};

/// Purchase orders (page 50).
pub const PURCHASE_ORDERS: EntitySpec = EntitySpec {
    entity_set: "purchaseOrders",
    singular: "Purchase Order",
    category: "Purchase Orders",
    number_field: "number",
    number_caption: Some("No."),
    party_field: Some("vendorName"),
    page: PageRule::Fixed(50),
    lines: Some(LinesSpec {
        nav: "purchaseOrderLines",
        columns: &[
            f("Type", &["lineType"], Enum),
            f("No.", &["lineObjectNumber"], Text),
            f("Description", &["description", "description2"], Text),
            f("Quantity", &["quantity"], Number),
            f("Received", &["receivedQuantity"], Number),
            f("Unit", &["unitOfMeasureCode"], Text),
            f("Unit cost", &["directUnitCost"], Amount),
            f("Amount excl. tax", &["amountExcludingTax"], Amount),
        ],
    }),
    has_last_modified: true,
    created_field: Some("orderDate"),
    currency_field: Some("currencyCode"),
    fields: &[
        f("Order number", &["number"], Text),
        f("Status", &["status"], Enum),
        f("Vendor", &["vendorName"], Text),
        f("Vendor number", &["vendorNumber"], Text),
        f("Order date", &["orderDate"], Date),
        f("Requested receipt date", &["requestedReceiptDate"], Date),
        f("Purchaser", &["purchaser"], Text),
        f("Fully received", &["fullyReceived"], Bool),
        f("Currency", &["currencyCode"], Text),
        f("Total excluding tax", &["totalAmountExcludingTax"], Amount),
        f("Total including tax", &["totalAmountIncludingTax"], Amount),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: &[
        a("bc_number", "number", AttrKind::String),
        a("bc_vendor_number", "vendorNumber", AttrKind::String),
        a("bc_vendor_name", "vendorName", AttrKind::String),
        a("bc_status", "status", AttrKind::String),
        a(
            "bc_amount_incl_tax",
            "totalAmountIncludingTax",
            AttrKind::Number,
        ),
    ],
    pdf: false,
};

/// Contacts (Contact Card, page 5050).
pub const CONTACTS: EntitySpec = EntitySpec {
    entity_set: "contacts",
    singular: "Contact",
    category: "Contacts",
    number_field: "number",
    number_caption: Some("No."),
    party_field: Some("displayName"),
    page: PageRule::Fixed(5050),
    lines: None,
    has_last_modified: true,
    created_field: None,
    currency_field: None,
    fields: &[
        f("Contact number", &["number"], Text),
        f("Name", &["displayName"], Text),
        f("Type", &["type"], Enum),
        f("Job title", &["jobTitle"], Text),
        f("Company", &["companyName"], Text),
        f("Address", POSTAL_ADDRESS, Text),
        f("Phone", &["phoneNumber"], Text),
        f("Mobile", &["mobilePhoneNumber"], Text),
        f("Email", &["email"], Text),
        f("Last interaction", &["lastInteractionDate"], Date),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: &[a("bc_number", "number", AttrKind::String)],
    pdf: false,
};

/// Employees (Employee Card, page 5200). Birth date and personal email are
/// left out on purpose: the index is searchable by everyone with access.
pub const EMPLOYEES: EntitySpec = EntitySpec {
    entity_set: "employees",
    singular: "Employee",
    category: "Employees",
    number_field: "number",
    number_caption: Some("No."),
    party_field: Some("displayName"),
    page: PageRule::Fixed(5200),
    lines: None,
    has_last_modified: true,
    created_field: None,
    currency_field: None,
    fields: &[
        f("Employee number", &["number"], Text),
        f("Name", &["displayName"], Text),
        f("Job title", &["jobTitle"], Text),
        f("Status", &["status"], Enum),
        f("Work phone", &["phoneNumber"], Text),
        f("Work email", &["email"], Text),
        f("Employed since", &["employmentDate"], Date),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: &[
        a("bc_number", "number", AttrKind::String),
        a("bc_status", "status", AttrKind::String),
    ],
    pdf: false,
};

/// Projects (Project Card, formerly Job Card, page 88).
pub const PROJECTS: EntitySpec = EntitySpec {
    entity_set: "projects",
    singular: "Project",
    category: "Projects",
    number_field: "number",
    number_caption: Some("No."),
    party_field: Some("displayName"),
    page: PageRule::Fixed(88),
    lines: None,
    has_last_modified: true,
    created_field: None,
    currency_field: None,
    fields: &[
        f("Project number", &["number"], Text),
        f("Description", &["displayName"], Text),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: &[a("bc_number", "number", AttrKind::String)],
    pdf: false,
};

/// General ledger entries (page 20, keyed by Entry No.): one document per
/// posting line, so that "what was posted to account 6110 in March" finds
/// them. Many: about two per invoice.
pub const GENERAL_LEDGER_ENTRIES: EntitySpec = EntitySpec {
    entity_set: "generalLedgerEntries",
    singular: "G/L Entry",
    category: "General Ledger Entries",
    number_field: "entryNumber",
    number_caption: Some("Entry No."),
    party_field: Some("description"),
    page: PageRule::Fixed(20),
    lines: None,
    has_last_modified: true,
    created_field: Some("postingDate"),
    currency_field: None,
    fields: &[
        f("Entry number", &["entryNumber"], Number),
        f("Posting date", &["postingDate"], Date),
        f("Document type", &["documentType"], Enum),
        f("Document number", &["documentNumber"], Text),
        f("G/L account number", &["accountNumber"], Text),
        f("Description", &["description"], Text),
        f("Debit amount", &["debitAmount"], Amount),
        f("Credit amount", &["creditAmount"], Amount),
        f(
            "Debit amount (additional currency)",
            &["additionalCurrencyDebitAmount"],
            Amount,
        ),
        f(
            "Credit amount (additional currency)",
            &["additionalCurrencyCreditAmount"],
            Amount,
        ),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: &[
        a("bc_account_number", "accountNumber", AttrKind::String),
        a("bc_document_number", "documentNumber", AttrKind::String),
        a("bc_posting_date", "postingDate", AttrKind::Date),
        a("bc_debit_amount", "debitAmount", AttrKind::Number),
        a("bc_credit_amount", "creditAmount", AttrKind::Number),
    ],
    pdf: false,
};

/// The company's own information (Company Information, page 1): one
/// record per company, titled with the company's name.
pub const COMPANY_INFORMATION: EntitySpec = EntitySpec {
    entity_set: "companyInformation",
    singular: "Company Information",
    category: "Company Information",
    number_field: "displayName",
    number_caption: None,
    party_field: None,
    page: PageRule::Fixed(1),
    lines: None,
    has_last_modified: true,
    created_field: None,
    currency_field: Some("currencyCode"),
    fields: &[
        f("Name", &["displayName"], Text),
        f("Address", POSTAL_ADDRESS, Text),
        f("Phone", &["phoneNumber"], Text),
        f("Fax", &["faxNumber"], Text),
        f("Email", &["email"], Text),
        f("Website", &["website"], Text),
        f("Tax registration number", &["taxRegistrationNumber"], Text),
        f("Currency", &["currencyCode"], Text),
        f(
            "Current fiscal year starts",
            &["currentFiscalYearStartDate"],
            Date,
        ),
        f("Industry", &["industry"], Text),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: &[],
    pdf: false,
};

const BUY_FROM_ADDRESS: &[&str] = &[
    "buyFromAddressLine1",
    "buyFromAddressLine2",
    "buyFromPostCode",
    "buyFromCity",
    "buyFromState",
    "buyFromCountry",
];

/// Posted sales shipments (Posted Sales Shipment, page 130): what left the
/// warehouse for whom, line by line.
pub const SALES_SHIPMENTS: EntitySpec = EntitySpec {
    entity_set: "salesShipments",
    singular: "Sales Shipment",
    category: "Sales Shipments",
    number_field: "number",
    number_caption: Some("No."),
    party_field: Some("customerName"),
    page: PageRule::Fixed(130),
    lines: Some(LinesSpec {
        nav: "salesShipmentLines",
        columns: &[
            f("Type", &["lineType"], Enum),
            f("No.", &["lineObjectNumber"], Text),
            f("Description", &["description", "description2"], Text),
            f("Quantity", &["quantity"], Number),
            f("Unit", &["unitOfMeasureCode"], Text),
            f("Shipment date", &["shipmentDate"], Date),
        ],
    }),
    has_last_modified: true,
    created_field: Some("postingDate"),
    currency_field: Some("currencyCode"),
    fields: &[
        f("Shipment number", &["number"], Text),
        f("Customer", &["customerName"], Text),
        f("Customer number", &["customerNumber"], Text),
        f("Order number", &["orderNumber"], Text),
        f("Ship-to", &["shipToName", "shipToContact"], Text),
        f("Ship-to address", SHIP_TO_ADDRESS, Text),
        f("Posting date", &["postingDate"], Date),
        f("Shipment method", &["shipmentMethodCode"], Text),
        f(
            "External document number",
            &["externalDocumentNumber"],
            Text,
        ),
        f("Salesperson", &["salesperson"], Text),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: &[
        a("bc_number", "number", AttrKind::String),
        a("bc_customer_number", "customerNumber", AttrKind::String),
        a("bc_customer_name", "customerName", AttrKind::String),
        a("bc_posting_date", "postingDate", AttrKind::Date),
    ],
    pdf: false,
};

/// Posted purchase receipts (Posted Purchase Receipt, page 136): what came
/// in from which vendor.
pub const PURCHASE_RECEIPTS: EntitySpec = EntitySpec {
    entity_set: "purchaseReceipts",
    singular: "Purchase Receipt",
    category: "Purchase Receipts",
    number_field: "number",
    number_caption: Some("No."),
    party_field: Some("vendorName"),
    page: PageRule::Fixed(136),
    lines: Some(LinesSpec {
        nav: "purchaseReceiptLines",
        columns: &[
            f("Type", &["lineType"], Enum),
            f("No.", &["lineObjectNumber"], Text),
            f("Description", &["description", "description2"], Text),
            f("Quantity", &["quantity"], Number),
            f("Unit", &["unitOfMeasureCode"], Text),
            f("Unit cost", &["unitCost"], Amount),
            f("Expected receipt", &["expectedReceiptDate"], Date),
        ],
    }),
    has_last_modified: true,
    created_field: Some("postingDate"),
    currency_field: Some("currencyCode"),
    fields: &[
        f("Receipt number", &["number"], Text),
        f("Vendor", &["vendorName"], Text),
        f("Vendor number", &["vendorNumber"], Text),
        f("Order number", &["orderNumber"], Text),
        f("Buy-from address", BUY_FROM_ADDRESS, Text),
        f("Posting date", &["postingDate"], Date),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: &[
        a("bc_number", "number", AttrKind::String),
        a("bc_vendor_number", "vendorNumber", AttrKind::String),
        a("bc_vendor_name", "vendorName", AttrKind::String),
        a("bc_posting_date", "postingDate", AttrKind::Date),
    ],
    pdf: false,
};

/// Purchase credit memos: drafts (page 52) and posted ones (page 140).
pub const PURCHASE_CREDIT_MEMOS: EntitySpec = EntitySpec {
    entity_set: "purchaseCreditMemos",
    singular: "Purchase Credit Memo",
    category: "Purchase Credit Memos",
    number_field: "number",
    number_caption: Some("No."),
    party_field: Some("vendorName"),
    page: PageRule::ByStatus {
        field: "status",
        draft_values: &["Draft", "In_x0020_Review", "_x0020_"],
        draft_page: 52,
        posted_page: 140,
    },
    lines: Some(LinesSpec {
        nav: "purchaseCreditMemoLines",
        columns: &[
            f("Type", &["lineType"], Enum),
            f("No.", &["lineObjectNumber"], Text),
            f("Description", &["description"], Text),
            f("Quantity", &["quantity"], Number),
            f("Unit", &["unitOfMeasureCode"], Text),
            f("Unit cost", &["unitCost"], Amount),
            f("Amount excl. tax", &["amountExcludingTax"], Amount),
            f("Amount incl. tax", &["amountIncludingTax"], Amount),
        ],
    }),
    has_last_modified: true,
    created_field: Some("creditMemoDate"),
    currency_field: Some("currencyCode"),
    fields: &[
        f("Credit memo number", &["number"], Text),
        f("Status", &["status"], Enum),
        f("Vendor", &["vendorName"], Text),
        f("Vendor number", &["vendorNumber"], Text),
        f(
            "Vendor's credit memo number",
            &["vendorCreditMemoNumber"],
            Text,
        ),
        f("Corrects invoice", &["invoiceNumber"], Text),
        f("Buy-from address", BUY_FROM_ADDRESS, Text),
        f("Credit memo date", &["creditMemoDate"], Date),
        f("Posting date", &["postingDate"], Date),
        f("Due date", &["dueDate"], Date),
        f("Purchaser", &["purchaser"], Text),
        f("Currency", &["currencyCode"], Text),
        f("Total excluding tax", &["totalAmountExcludingTax"], Amount),
        f("Total tax", &["totalTaxAmount"], Amount),
        f("Total including tax", &["totalAmountIncludingTax"], Amount),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: &[
        a("bc_number", "number", AttrKind::String),
        a("bc_vendor_number", "vendorNumber", AttrKind::String),
        a("bc_vendor_name", "vendorName", AttrKind::String),
        a("bc_status", "status", AttrKind::String),
        a("bc_currency", "currencyCode", AttrKind::String),
        a(
            "bc_amount_incl_tax",
            "totalAmountIncludingTax",
            AttrKind::Number,
        ),
        a("bc_document_date", "creditMemoDate", AttrKind::Date),
    ],
    pdf: true,
};

/// Item ledger entries (page 38, keyed by Entry No.): every movement of
/// stock, so that "how many bicycles did we sell to Adatum" finds them.
pub const ITEM_LEDGER_ENTRIES: EntitySpec = EntitySpec {
    entity_set: "itemLedgerEntries",
    singular: "Item Ledger Entry",
    category: "Item Ledger Entries",
    number_field: "entryNumber",
    number_caption: Some("Entry No."),
    party_field: Some("description"),
    page: PageRule::Fixed(38),
    lines: None,
    has_last_modified: true,
    created_field: Some("postingDate"),
    currency_field: None,
    fields: &[
        f("Entry number", &["entryNumber"], Number),
        f("Posting date", &["postingDate"], Date),
        f("Entry type", &["entryType"], Enum),
        f("Item number", &["itemNumber"], Text),
        f("Description", &["description"], Text),
        f("Quantity", &["quantity"], Number),
        f("Source type", &["sourceType"], Enum),
        f("Source number", &["sourceNumber"], Text),
        f("Document type", &["documentType"], Enum),
        f("Document number", &["documentNumber"], Text),
        f("Sales amount (actual)", &["salesAmountActual"], Amount),
        f("Cost amount (actual)", &["costAmountActual"], Amount),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: &[
        a("bc_item_number", "itemNumber", AttrKind::String),
        a("bc_document_number", "documentNumber", AttrKind::String),
        a("bc_source_number", "sourceNumber", AttrKind::String),
        a("bc_posting_date", "postingDate", AttrKind::Date),
    ],
    pdf: false,
};

/// Bank accounts (Bank Account Card, page 370).
pub const BANK_ACCOUNTS: EntitySpec = EntitySpec {
    entity_set: "bankAccounts",
    singular: "Bank Account",
    category: "Bank Accounts",
    number_field: "number",
    number_caption: Some("No."),
    party_field: Some("displayName"),
    page: PageRule::Fixed(370),
    lines: None,
    has_last_modified: true,
    created_field: None,
    currency_field: Some("currencyCode"),
    fields: &[
        f("Bank account number (in BC)", &["number"], Text),
        f("Name", &["displayName"], Text),
        f("Account number at the bank", &["bankAccountNumber"], Text),
        f("IBAN", &["iban"], Text),
        f("Currency", &["currencyCode"], Text),
        f("Blocked", &["blocked"], Bool),
        f("Intercompany", &["intercompanyEnabled"], Bool),
        f("Last modified", &["lastModifiedDateTime"], DateTime),
    ],
    attributes: &[a("bc_number", "number", AttrKind::String)],
    pdf: false,
};

/// Every entity bcq can sync.
pub const CATALOG: &[EntitySpec] = &[
    SALES_INVOICES,
    SALES_ORDERS,
    SALES_QUOTES,
    SALES_CREDIT_MEMOS,
    PURCHASE_INVOICES,
    PURCHASE_ORDERS,
    CUSTOMERS,
    VENDORS,
    ITEMS,
    CONTACTS,
    EMPLOYEES,
    PROJECTS,
    SALES_SHIPMENTS,
    PURCHASE_RECEIPTS,
    PURCHASE_CREDIT_MEMOS,
    GENERAL_LEDGER_ENTRIES,
    ITEM_LEDGER_ENTRIES,
    BANK_ACCOUNTS,
    COMPANY_INFORMATION,
];

/// The catalog entry of an entity set.
pub fn lookup(entity_set: &str) -> Option<&'static EntitySpec> {
    CATALOG.iter().find(|e| e.entity_set == entity_set)
}

/// Attributes every document carries besides the entity's own: name and type.
pub const COMMON_ATTRIBUTES: &[(&str, AttrKind)] = &[
    ("bc_environment", AttrKind::String),
    ("bc_company", AttrKind::String),
    ("bc_company_id", AttrKind::String),
    ("bc_entity", AttrKind::String),
    ("bc_id", AttrKind::String),
    ("bc_kind", AttrKind::String),
];

/// The custom attributes documents of `entities` carry, each once, in a
/// stable order: what the Q index must declare.
pub fn custom_attributes(entities: &[&EntitySpec]) -> Vec<(&'static str, AttrKind)> {
    let mut out: Vec<(&'static str, AttrKind)> = COMMON_ATTRIBUTES.to_vec();
    for e in entities {
        for a in e.attributes {
            if !out.iter().any(|(n, _)| *n == a.name) {
                out.push((a.name, a.kind));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_attributes_are_unique_and_typed_consistently() {
        let all: Vec<&EntitySpec> = CATALOG.iter().collect();
        let attrs = custom_attributes(&all);
        for (i, (n, k)) in attrs.iter().enumerate() {
            assert!(attrs[i + 1..].iter().all(|(m, _)| m != n), "{n} twice");
            for e in CATALOG {
                for a in e.attributes.iter().filter(|a| a.name == *n) {
                    assert_eq!(a.kind, *k, "{n} has two types");
                }
            }
        }
        assert!(attrs.iter().any(|(n, _)| *n == "bc_number"));
    }

    #[test]
    fn attribute_names_fit_q_index_limits() {
        for e in CATALOG {
            for at in e.attributes {
                assert!(at.name.len() <= 30, "{} too long", at.name);
                assert!(!at.name.starts_with('_'));
            }
        }
        for (n, _) in COMMON_ATTRIBUTES {
            assert!(n.len() <= 30);
        }
    }

    #[test]
    fn lookup_finds_sales_invoices() {
        assert_eq!(lookup("salesInvoices").unwrap().singular, "Sales Invoice");
        assert!(lookup("nope").is_none());
    }
}
