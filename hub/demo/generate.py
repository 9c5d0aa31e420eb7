"""Generate the demo story: a fictional B2B company onboarding clients across siloed systems.

The same customers appear in four sources that never agreed on a key or a format:

- ``crm.sqlite``: tables ``clients`` and ``contacts`` (no primary keys, duplicates possible);
- ``billing/accounts.csv`` and ``billing/invoices.csv``: company names and e-mails formatted
  differently, two accounts billed to another address at the same domain, the last CRM client
  not billed yet and one billing-only company unknown to the CRM;
- ``support/tickets.json``: tickets keyed by a requester e-mail (mixed case) and a free-typed
  company name;
- ``docs/<slug>.md``: Markdown onboarding notes, one per client.

With ``dirty=True`` the output is identical except for exactly these defects: a duplicate
``client_id`` in CRM ``clients`` (slightly different spelling), two malformed CRM e-mails, two
invoices for an unknown account and one ``invoices.csv`` line with one column too many.

Everything is deterministic for a given seed.
"""

from __future__ import annotations

import csv
import json
import random
import re
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

DEMO_CLIENT_COUNT = 12

BASE_DATE = date(2026, 1, 5)

PREFIXES = [
    "Northwind", "Bluepeak", "Riverside", "Summit", "Harbor", "Evergreen", "Crestview",
    "Ironbridge", "Silverline", "Oakridge", "Brightwater", "Granite", "Maple", "Lakeshore",
    "Pioneer", "Cedar", "Redwood", "Clearwater", "Highland", "Stonegate", "Westfield",
    "Fairhaven", "Goldcrest", "Seabright",
]  # fmt: skip
INDUSTRY_WORDS = {
    "health": ["Health", "Medical", "Clinics", "Care"],
    "finance": ["Capital", "Finance", "Bank", "Wealth"],
    "insurance": ["Insurance", "Mutual", "Assurance", "Underwriters"],
}
SUFFIXES = ["Inc", "LLC", "Ltd", "Corp"]
SUFFIX_LONG = {"Inc": "Incorporated", "LLC": "L.L.C.", "Ltd": "Limited", "Corp": "Corporation"}
FIRST_NAMES = [
    "Maria", "James", "Aisha", "Chen", "Olivia", "Lucas", "Priya", "Noah", "Sofia", "Daniel",
    "Elena", "Omar", "Hannah", "Mateo", "Grace", "Yuki", "Liam", "Fatima", "Jonas", "Chloe",
]  # fmt: skip
LAST_NAMES = [
    "Lopez", "Smith", "Khan", "Wei", "Brown", "Martin", "Patel", "Johnson", "Rossi", "Kim",
    "Novak", "Haddad", "Schmidt", "Garcia", "Okafor", "Tanaka", "Murphy", "Ali", "Berg", "Dubois",
]  # fmt: skip
ROLES = [
    "CTO", "Head of Operations", "Finance Manager", "IT Administrator", "Compliance Officer",
    "Project Lead",
]  # fmt: skip
AREA_CODES = ["415", "212", "617", "312", "206", "512", "303", "404"]
PLANS = ["starter", "growth", "enterprise"]
PLAN_AMOUNTS = {"starter": (200, 900), "growth": (900, 3000), "enterprise": (3000, 15000)}
BILLING_ALIASES = ["billing", "accounts.payable", "finance"]

GOALS = {
    "health": [
        "Give care coordinators one view of each patient's onboarding status",
        "Cut claims reconciliation time in half",
        "Replace spreadsheet-based referral tracking",
        "Meet HIPAA audit requirements for data access",
    ],
    "finance": [
        "Consolidate client reporting across portfolio teams",
        "Automate the month-end reconciliation",
        "Shorten KYC review from days to hours",
        "Give advisors a single client timeline",
    ],
    "insurance": [
        "Speed up first notice of loss handling",
        "Unify policyholder records across regional offices",
        "Reduce manual re-keying of broker submissions",
        "Report renewal risk weekly to underwriting",
    ],
}
INTEGRATIONS = {
    "health": [
        "Single sign-on with Okta",
        "Nightly export of claims to SFTP",
        "HL7 feed from the scheduling system",
        "Read-only access to the EHR reporting database",
    ],
    "finance": [
        "Single sign-on with Azure AD",
        "Daily ledger export to S3",
        "REST sync with the portfolio management system",
        "SWIFT statement import",
    ],
    "insurance": [
        "Single sign-on with Okta",
        "Nightly policy export to SFTP",
        "Webhook from the claims portal",
        "Broker submissions via shared mailbox",
    ],
}
RISKS = {
    "health": [
        "Patient data must stay in the EU region",
        "EHR vendor change planned for next quarter",
    ],
    "finance": [
        "Strict change freeze during quarter close",
        "Legacy ledger exports use fixed-width files",
    ],
    "insurance": [
        "Regional offices use different policy numbering",
        "Claims portal API is rate limited",
    ],
    "any": [
        "Key sponsor is on leave during the first month",
        "IT team has limited capacity before go-live",
        "Data quality in the legacy system is unknown",
    ],
}
TICKET_SUBJECTS = [
    "Cannot log in with SSO",
    "Invoice amount looks wrong",
    "Nightly export failed",
    "How do I add a new user?",
    "Data import stuck at 80%",
    "Request for API credentials",
    "Dashboard shows stale numbers",
    "Please update our billing address",
]


@dataclass
class Client:
    """One CRM client with its contacts (the first contact is the primary one)."""

    client_id: str
    name: str
    suffix: str
    industry: str
    domain: str
    area: str
    phone_line: str
    created: date
    contacts: list[tuple[str, str, str, str, str]] = field(default_factory=list)

    @property
    def company(self) -> str:
        """Company name as the CRM spells it."""
        return f"{self.name} {self.suffix}".strip()

    @property
    def email(self) -> str:
        """Primary contact e-mail."""
        return self.contacts[0][2]


def _slug(text: str) -> str:
    """Lower-case, dash-separated file name stem."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _phone_variant(rng: random.Random, area: str, line: str) -> str:
    """The same phone number as billing types it."""
    head, tail = line.split("-")
    return rng.choice(
        [f"({area}) {head}-{tail}", f"{area}.{head}.{tail}", f"001 {area} {head} {tail}"]
    )


def _company_variant(rng: random.Random, name: str, suffix: str) -> str:
    """The company name as billing formats it (always different from the CRM spelling)."""
    return rng.choice(
        [
            f"{name.upper()}, {suffix.upper()}.",
            f"{name} {suffix}.",
            f"{name.replace(' ', '  ')} {suffix}",
            f" {name}, {suffix} ",
            f"{name.lower()} {suffix.lower()}.",
        ]
    )


def _email_variant(rng: random.Random, email: str) -> str:
    """The same e-mail with different case and/or surrounding spaces."""
    local, domain = email.split("@")
    cased = rng.choice(
        [
            f"{local.title()}@{domain.title()}",
            email.upper(),
            f"{local.title()}@{domain}",
            f"{local}@{domain.upper()}",
        ]
    )
    return rng.choice([cased, f" {cased} ", f"{cased} ", f" {email} "])


def _make_clients(rng: random.Random, count: int) -> list[Client]:
    """Draw ``count`` distinct companies (plus contacts), one prefix each."""
    prefixes = rng.sample(PREFIXES, count)
    used_people: set[tuple[str, str]] = set()
    clients: list[Client] = []
    contact_no = 0
    for i, prefix in enumerate(prefixes, start=1):
        industry = rng.choice(list(INDUSTRY_WORDS))
        name = f"{prefix} {rng.choice(INDUSTRY_WORDS[industry])}"
        area = rng.choice(AREA_CODES)
        client = Client(
            client_id=f"C{i:03d}",
            name=name,
            suffix=rng.choice(SUFFIXES),
            industry=industry,
            domain=f"{name.replace(' ', '').lower()}.com",
            area=area,
            phone_line=f"555-{100 + i:04d}",
            created=BASE_DATE + timedelta(days=rng.randint(0, 60)),
        )
        for role in rng.sample(ROLES, rng.randint(1, 3)):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            while (first, last) in used_people:
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            used_people.add((first, last))
            contact_no += 1
            email = f"{first.lower()}.{last.lower()}@{client.domain}"
            phone = f"+1 {area} 555-{200 + contact_no:04d}"
            client.contacts.append((f"P{contact_no:04d}", f"{first} {last}", email, phone, role))
        clients.append(client)
    return clients


def _write_crm(path: Path, rows: list[list[str]], contacts: list[list[str]]) -> None:
    """Write the CRM tables (deliberately without keys or constraints)."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE clients (client_id TEXT, company TEXT, email TEXT, phone TEXT,"
            " industry TEXT, created_at TEXT)"
        )
        conn.execute(
            "CREATE TABLE contacts (contact_id TEXT, client_id TEXT, full_name TEXT, email TEXT,"
            " phone TEXT, role TEXT)"
        )
        conn.execute(  # where approved follow-up tasks are written back (delivery.tasks)
            "CREATE TABLE tasks (task_id TEXT PRIMARY KEY, client_id TEXT, title TEXT,"
            " due_date DATE, notes TEXT, draft_id TEXT, created_by TEXT, created_at TIMESTAMP)"
        )
        conn.executemany("INSERT INTO clients VALUES (?, ?, ?, ?, ?, ?)", rows)
        conn.executemany("INSERT INTO contacts VALUES (?, ?, ?, ?, ?, ?)", contacts)
    conn.close()


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """Write rows with the csv module (quoting only where needed)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _onboarding_notes(rng: random.Random, client: Client, kickoff: date | None = None) -> str:
    """Markdown onboarding notes for one client (kick-off 7-21 days after it was created,
    unless `kickoff` says when)."""
    goals = rng.sample(GOALS[client.industry], rng.randint(2, 3))
    integrations = rng.sample(INTEGRATIONS[client.industry], rng.randint(1, 3))
    risks = rng.sample(RISKS[client.industry] + RISKS["any"], rng.randint(1, 2))
    kickoff = kickoff or client.created + timedelta(days=rng.randint(7, 21))
    owner = client.contacts[0][1]
    lines = [
        "---",
        f"client_id: {client.client_id}",
        "---",
        f"# Onboarding notes: {client.company}",
        "",
        f"Client: {client.client_id}",
        "",
        "## Goals",
        "",
        *(f"- {g}" for g in goals),
        "",
        "## Integrations",
        "",
        *(f"- {i}" for i in integrations),
        "",
        "## Risks",
        "",
        *(f"- {r}" for r in risks),
        "",
        "## Kick-off",
        "",
        f"Kick-off proposed for {kickoff.isoformat()} with {owner} and the project team.",
        "",
    ]
    return "\n".join(lines)


def _crm_row(c: Client) -> list[str]:
    phone = f"+1 {c.area} {c.phone_line}"
    return [c.client_id, c.company, c.email, phone, c.industry, c.created.isoformat()]


def _break_crm(bad: random.Random, crm: list[Client], rows: list[list[str]]) -> None:
    """Two malformed e-mails and one duplicated client_id with a different spelling."""
    missing_at, double_at = bad.sample(range(len(rows)), 2)
    local, domain = crm[missing_at].email.split("@")
    rows[missing_at][2] = f"{local}.{domain}"
    local, domain = crm[double_at].email.split("@")
    first, last = local.split(".")
    rows[double_at][2] = f"{first[0]}.{last}@@{domain.split('.')[0]}"
    twin = bad.choice(crm)
    duplicate = _crm_row(twin)
    duplicate[1] = f"{twin.name} {SUFFIX_LONG[twin.suffix]}"
    duplicate[5] = (twin.created + timedelta(days=bad.randint(30, 90))).isoformat()
    rows.append(duplicate)


def _billing(
    rng: random.Random, crm: list[Client], billing_only: Client
) -> tuple[list[list[str]], list[list[str]]]:
    """Accounts (all CRM clients but the last, plus ``billing_only``) and their invoices."""
    billed = crm[:-1]
    insert_at = rng.randint(0, len(billed))
    billed = [*billed[:insert_at], billing_only, *billed[insert_at:]]
    aliased = set(rng.sample([c.client_id for c in crm[:-1]], 2))
    accounts: list[list[str]] = []
    invoices: list[list[str]] = []
    for n, c in enumerate(billed, start=1):
        account_id = f"A-{1000 + n}"
        if c.client_id in aliased or c is billing_only:
            email = f"{rng.choice(BILLING_ALIASES)}@{c.domain}"
        else:
            email = _email_variant(rng, c.email)
        company = _company_variant(rng, c.name, c.suffix)
        phone = _phone_variant(rng, c.area, c.phone_line)
        plan = rng.choice(PLANS)
        opened = c.created + timedelta(days=rng.randint(3, 30))
        accounts.append([account_id, company, email, phone, plan, opened.isoformat()])
        currency = rng.choice(["EUR", "USD"])
        for k in range(rng.randint(1, 4)):
            issued = opened + timedelta(days=30 * k + rng.randint(0, 5))
            due = issued + timedelta(days=30)
            status = rng.choice(["paid", "paid", "open", "overdue"])
            amount = f"{rng.uniform(*PLAN_AMOUNTS[plan]):.2f}"
            invoice_id = f"INV-{50001 + len(invoices)}"
            invoices.append(
                [
                    invoice_id,
                    account_id,
                    amount,
                    currency,
                    issued.isoformat(),
                    due.isoformat(),
                    status,
                ]
            )
    return accounts, invoices


def _break_invoices(
    bad: random.Random, accounts: list[list[str]], invoices: list[list[str]]
) -> None:
    """Add two invoices for unknown accounts and one line with an unquoted "1,200.00"."""
    next_no = 50001 + len(invoices)
    last_issued = max(date.fromisoformat(row[4]) for row in invoices)
    extras = [
        ("A-9999", f"{bad.uniform(200, 3000):.2f}"),
        ("A-9998", f"{bad.uniform(200, 3000):.2f}"),
        (bad.choice(accounts)[0], f"{bad.uniform(1000, 9999):,.2f}"),  # one column too many
    ]
    for account_id, amount in extras:
        issued = last_issued - timedelta(days=bad.randint(0, 20))
        due = issued + timedelta(days=30)
        currency = bad.choice(["EUR", "USD"])
        row = [f"INV-{next_no}", account_id, *amount.split(","), currency]
        row += [issued.isoformat(), due.isoformat(), "open"]
        invoices.insert(bad.randint(0, len(invoices)), row)
        next_no += 1


def _tickets(rng: random.Random, crm: list[Client]) -> list[dict[str, str]]:
    """0-3 tickets per client, numbered in creation order."""
    drafts: list[tuple[datetime, dict[str, str]]] = []
    for c in crm:
        for _ in range(rng.randint(0, 3)):
            local, domain = rng.choice(c.contacts)[2].split("@")
            email = rng.choice(
                [
                    f"{local}@{domain}".upper(),
                    f"{local.title()}@{domain}",
                    f"{local.title()}@{domain.title()}",
                ]
            )
            company = rng.choice(
                [c.company.lower(), c.name, c.name.lower(), f"{c.name} {c.suffix}."]
            )
            day = c.created + timedelta(days=rng.randint(5, 90))
            created = datetime.combine(day, time(rng.randint(7, 19), rng.randint(0, 59)))
            ticket = {
                "requester_email": email,
                "requester_company": company,
                "subject": rng.choice(TICKET_SUBJECTS),
                "status": rng.choice(["open", "pending", "solved"]),
                "priority": rng.choice(["low", "normal", "normal", "high"]),
                "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            drafts.append((created, ticket))
    drafts.sort(key=lambda d: d[0])
    return [{"ticket_id": f"T-{9001 + i}", **t} for i, (_, t) in enumerate(drafts)]


def generate(
    root: Path, *, seed: int = 7, clients: int = DEMO_CLIENT_COUNT, dirty: bool = False
) -> dict[str, int]:
    """Write the siloed demo sources under ``root`` and return the number of records written.

    Only ``crm.sqlite``, ``billing/``, ``support/`` and ``docs/`` under ``root`` are replaced.
    Counts are rows/items as written, so with ``dirty=True`` the injected rows are included.
    """
    if not 3 <= clients <= len(PREFIXES) - 1:
        raise ValueError(f"clients must be between 3 and {len(PREFIXES) - 1}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "crm.sqlite").unlink(missing_ok=True)
    for name in ("billing", "support", "docs"):
        shutil.rmtree(root / name, ignore_errors=True)
        (root / name).mkdir()

    rng = random.Random(seed)
    bad = random.Random(f"{seed}-dirty")  # separate, so the clean parts stay identical

    *crm, billing_only = _make_clients(rng, clients + 1)
    client_rows = [_crm_row(c) for c in crm]
    contact_rows = [[p[0], c.client_id, *p[1:]] for c in crm for p in c.contacts]
    accounts, invoices = _billing(rng, crm, billing_only)
    tickets = _tickets(rng, crm)
    docs = {f"{_slug(c.name)}.md": _onboarding_notes(rng, c) for c in crm}
    if dirty:
        _break_crm(bad, crm, client_rows)
        _break_invoices(bad, accounts, invoices)

    _write_crm(root / "crm.sqlite", client_rows, contact_rows)
    _write_csv(
        root / "billing" / "accounts.csv",
        ["account_id", "company_name", "billing_email", "phone", "plan", "opened_on"],
        accounts,
    )
    _write_csv(
        root / "billing" / "invoices.csv",
        ["invoice_id", "account_id", "amount", "currency", "issued_on", "due_on", "status"],
        invoices,
    )
    (root / "support" / "tickets.json").write_text(
        json.dumps(tickets, indent=2) + "\n", encoding="utf-8"
    )
    for name, text in docs.items():
        (root / "docs" / name).write_text(text, encoding="utf-8")

    return {
        "clients": len(client_rows),
        "contacts": len(contact_rows),
        "accounts": len(accounts),
        "invoices": len(invoices),
        "tickets": len(tickets),
        "documents": len(docs),
    }


# --- one more client signing up, after the demo was built -------------------------------


@dataclass
class Signup:
    """What `sign_up` wrote: the client and its one contact, its CRM row's `created_at` and
    its onboarding note."""

    client: Client
    created_at: str
    note: Path
    kickoff: date


def sign_up(root: Path, company: str, email: str | None, *, now: datetime | None = None) -> Signup:
    """A new client as the CRM's web form and its account manager leave it under ``root``
    (the demo sources): one row in ``clients`` (the next free ``client_id``, ``created_at``
    now as an ISO-8601 UTC date-time, which sorts and casts like the generated dates), its
    primary contact in ``contacts`` and its onboarding note in ``docs/`` (kick-off a week
    from now). The e-mail is kept as given, none or invalid included: the form does not
    check it, the load does."""
    when = (now or datetime.now(UTC)).astimezone(UTC)
    crm = sqlite3.connect(Path(root) / "crm.sqlite")
    with crm:
        crm.execute("BEGIN IMMEDIATE")  # the next free ids stay free until the commit
        client_no = _next_number(crm.execute("SELECT client_id FROM clients"), "C")
        contact_no = _next_number(crm.execute("SELECT contact_id FROM contacts"), "P")
        people = {name for (name,) in crm.execute("SELECT full_name FROM contacts")}
        client_id = f"C{client_no:03d}"
        rng = random.Random(f"signup:{client_id}:{company}")
        name, suffix = _split_suffix(company)
        industry = _industry_of(name) or rng.choice(list(INDUSTRY_WORDS))
        area = rng.choice(AREA_CODES)
        client = Client(
            client_id=client_id,
            name=name,
            suffix=suffix,
            industry=industry,
            domain=f"{name.replace(' ', '').lower()}.com",
            area=area,
            phone_line=f"555-{100 + client_no:04d}",
            created=when.date(),
        )
        person = _person_of(email) or _new_person(rng, people)
        phone = f"+1 {area} 555-{200 + contact_no:04d}"
        client.contacts.append((f"P{contact_no:04d}", person, email, phone, rng.choice(ROLES)))
        # the note first: a load between the two then finds the client with its note
        kickoff = when.date() + timedelta(days=7)
        note = _free_note_path(Path(root) / "docs", name, client_id)
        note.write_text(_onboarding_notes(rng, client, kickoff), encoding="utf-8")
        created_at = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        crm.execute(
            "INSERT INTO clients (client_id, company, email, phone, industry, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [*_crm_row(client)[:5], created_at],
        )
        crm.execute(
            "INSERT INTO contacts (contact_id, client_id, full_name, email, phone, role) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [client.contacts[0][0], client_id, *client.contacts[0][1:]],
        )
    crm.close()
    return Signup(client, created_at, note, kickoff)


def _next_number(ids: sqlite3.Cursor, prefix: str) -> int:
    """One more than the highest `<prefix><number>` id."""
    found = [re.fullmatch(rf"{prefix}(\d+)", value or "") for (value,) in ids]
    return max((int(m[1]) for m in found if m), default=0) + 1


def _split_suffix(company: str) -> tuple[str, str]:
    """("Quayside Health", "Inc") of "Quayside Health Inc"; (company, "") without a suffix."""
    *words, last = company.split()
    if words and last.rstrip(".").lower() in {s.lower() for s in SUFFIXES}:
        return " ".join(words), last
    return " ".join([*words, last]), ""


def _industry_of(name: str) -> str | None:
    """The industry a company name says ("Quayside Health": health), if it says one."""
    words = set(name.split())
    return next((kind for kind, names in INDUSTRY_WORDS.items() if words & set(names)), None)


def _person_of(email: str | None) -> str | None:
    """The person an address names (ada.byron@…: Ada Byron), if it names a first and last."""
    local = (email or "").strip().partition("@")[0]
    parts = local.split(".")
    if len(parts) == 2 and all(p.isalpha() for p in parts):
        return " ".join(p.title() for p in parts)
    return None


def _new_person(rng: random.Random, taken: set[str]) -> str:
    while (person := f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}") in taken:
        pass
    return person


def _free_note_path(docs: Path, name: str, client_id: str) -> Path:
    """docs/<slug>.md like the generated notes, or with the client id when a note of the same
    company is there (a client signing up twice keeps both notes)."""
    note = docs / f"{_slug(name)}.md"
    return docs / f"{_slug(name)}-{client_id.lower()}.md" if note.exists() else note
