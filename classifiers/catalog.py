"""The pattern catalog: one record per rule of the integration guideline, with its predicate.

A predicate looks at one edge (EdgeFacts) and returns the evidence, in words, when the rule
applies, else None. Detection only: rendering (docs, CLI, TUI) reads the same records.

Where this catalog departs from DESIGN.md's first reading of the guideline, the record says so
in ``note`` (see docs/patterns.md, "Reading of the guideline").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from seamscope.classifiers import model
from seamscope.classifiers.model import WEBAPP_FACING, EdgeFacts, Polling
from seamscope.classifiers.results import Verdict

Predicate = Callable[[EdgeFacts], str | None]

UNCLASSIFIED = Verdict.UNCLASSIFIED.value  # the rule id of an edge no rule covers
UNRESOLVED = Verdict.UNRESOLVED.value  # the rule id of an edge whose spans lack a needed fact

GUIDELINE = "Integration Pattern"
CALLING_API = ("rest", "graphql")
MESSAGING = ("sqs", "sns", "kinesis")


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    level: str
    verdict: Verdict
    summary: str
    rationale: str
    section: str
    example: str
    fix: str
    predicate: Predicate
    note: str | None = None


def _n(edge: EdgeFacts, which: str) -> str:
    node = edge.source if which == "from" else edge.target
    return edge.name(node)


def _api_call(edge: EdgeFacts) -> bool:
    return (
        edge.direction == "call"
        and edge.mechanism in CALLING_API
        and edge.source.node_type == "component"
        and edge.target.node_type == "component"
    )


# --- System integration: calling -------------------------------------------------------------


def _p101(edge: EdgeFacts) -> str | None:
    if (
        _api_call(edge)
        and edge.mechanism == "graphql"
        and edge.source.role == "webapp"
        and edge.target.role == "bff"
    ):
        return f"webapp {_n(edge, 'from')} queries the BFF {_n(edge, 'to')} with GraphQL"
    return None


def _a102(edge: EdgeFacts) -> str | None:
    if (
        _api_call(edge)
        and edge.mechanism == "graphql"
        and edge.target.role == "bff"
        and edge.source.role != "webapp"
    ):
        return (
            f"{edge.source.role or 'component'} {_n(edge, 'from')} uses the webapp BFF's GraphQL "
            f"({_n(edge, 'to')}), which only webapps may use"
        )
    return None


def _a101(edge: EdgeFacts) -> str | None:
    if not (_api_call(edge) and edge.level == "system" and edge.source.role == "webapp"):
        return None
    if edge.mechanism == "graphql" and edge.target.role == "bff":
        return None
    if edge.mechanism == "rest" and edge.source_rest_allowed:
        return None
    if edge.target.role == "bff":
        return f"webapp {_n(edge, 'from')} calls the BFF {_n(edge, 'to')} over REST, not GraphQL"
    return (
        f"webapp {_n(edge, 'from')} calls {_n(edge, 'to')} of another system over "
        f"{edge.mechanism.upper() if edge.mechanism == 'rest' else 'GraphQL'} "
        "instead of going through the BFF"
    )


def _p103(edge: EdgeFacts) -> str | None:
    if (
        _api_call(edge)
        and edge.level == "system"
        and edge.mechanism == "rest"
        and edge.source.role == "webapp"
        and edge.source_rest_allowed
    ):
        return (
            f"webapp {_n(edge, 'from')} is on the landscape's REST exception list and calls "
            f"{_n(edge, 'to')} over REST"
        )
    return None


def _p102(edge: EdgeFacts) -> str | None:
    if (
        _api_call(edge)
        and edge.level == "system"
        and edge.mechanism == "rest"
        and edge.source.role in ("backend", "worker", "job", "bff")
    ):
        if edge.source.role == "bff":
            return f"the BFF {_n(edge, 'from')} aggregates the REST API of {_n(edge, 'to')}"
        return f"{edge.source.role} {_n(edge, 'from')} calls {_n(edge, 'to')}'s REST API"
    return None


# --- Component integration: calling ----------------------------------------------------------


def _p303(edge: EdgeFacts) -> str | None:
    if _api_call(edge) and edge.level == "component":
        ends = [n for n in (edge.source, edge.target) if n.role in WEBAPP_FACING]
        if ends and not (edge.mechanism == "graphql" and edge.target.role == "bff"):
            end = ends[0]
            return (
                f"{edge.mechanism.upper() if edge.mechanism == 'rest' else 'GraphQL'} inside "
                f"system {edge.source.system or '?'}, one end ({end.name}) serves the webapp"
            )
    return None


def _a303(edge: EdgeFacts) -> str | None:
    if (
        _api_call(edge)
        and edge.level == "component"
        and edge.source.role not in WEBAPP_FACING
        and edge.target.role not in WEBAPP_FACING
    ):
        return (
            f"{_n(edge, 'from')} calls {_n(edge, 'to')} over "
            f"{'REST' if edge.mechanism == 'rest' else 'GraphQL'} inside one system, "
            "where a direct hit or a listener would do"
        )
    return None


def _p302(edge: EdgeFacts) -> str | None:
    if edge.direction == "call" and edge.target.node_type == "external":
        how = "declared vendor" if not edge.target.inferred else "host outside the traced fleet"
        return f"{_n(edge, 'from')} calls {edge.target.name} ({how}) over HTTP"
    return None


def _p301(edge: EdgeFacts) -> str | None:
    if edge.mechanism == "dynamodb" and edge.direction == "call" and edge.owner_known:
        if edge.owner == edge.source.system:
            return f"{_n(edge, 'from')} uses table {edge.target.name} of its own system"
    return None


def _a301(edge: EdgeFacts) -> str | None:
    if edge.mechanism == "dynamodb" and edge.direction == "call" and edge.owner_known:
        if edge.owner != edge.source.system:
            return (
                f"{_n(edge, 'from')} (system {edge.source.system or '?'}) hits table "
                f"{edge.target.name}, owned by system {edge.owner}"
            )
    return None


# --- Listening -------------------------------------------------------------------------------


def _consumer(edge: EdgeFacts) -> str:
    return _n(edge, "to")


def _p401(edge: EdgeFacts) -> str | None:
    if edge.mechanism == "dynamodb-streams" and edge.owner_known:
        if edge.owner == edge.target.system:
            return f"{_consumer(edge)} listens to the stream of its own system's table"
    return None


def _a302(edge: EdgeFacts) -> str | None:
    if edge.mechanism == "dynamodb-streams" and edge.owner_known:
        if edge.owner != edge.target.system:
            return (
                f"{_consumer(edge)} (system {edge.target.system or '?'}) reads the stream of a "
                f"table owned by system {edge.owner}"
            )
    return None


def _messaging_systems(edge: EdgeFacts) -> tuple[str | None, str | None, bool] | None:
    if edge.mechanism not in MESSAGING or edge.direction != "listen":
        return None
    ends = []
    for node in (edge.source, edge.target):
        if node.node_type == "component":
            ends.append((node.system, True))
        elif node.node_type == "resource":
            ends.append((edge.owner, edge.owner_known))
        else:
            return None
    (a, a_known), (b, b_known) = ends
    return a, b, a_known and b_known


def _p402(edge: EdgeFacts) -> str | None:
    ends = _messaging_systems(edge)
    if ends and ends[2] and ends[0] == ends[1]:
        return f"{edge.mechanism.upper()} between components of system {ends[0] or '?'}"
    return None


def _a202(edge: EdgeFacts) -> str | None:
    ends = _messaging_systems(edge)
    if ends and ends[2] and ends[0] != ends[1]:
        return (
            f"{edge.mechanism.upper()} carries events from system {ends[0] or '?'} to system "
            f"{ends[1] or '?'}"
        )
    return None


def _eventbridge(edge: EdgeFacts) -> bool:
    return (
        edge.mechanism == "eventbridge"
        and edge.direction == "listen"
        and edge.target.node_type == "component"
        and edge.source.node_type in ("component", "external")
    )


def _p202(edge: EdgeFacts) -> str | None:
    if _eventbridge(edge) and edge.handling.calls_back:
        back = ", ".join(edge.handling.callback_targets[:3])
        return f"{_consumer(edge)} calls the source back ({back}) while handling the event"
    return None


def _state(edge: EdgeFacts) -> bool:
    return _eventbridge(edge) and edge.handling.observed and not edge.handling.calls_back


def _a201(edge: EdgeFacts) -> str | None:
    if _state(edge) and edge.source_is_leader:
        return (
            f"{_consumer(edge)} takes the event as state without asking the source, and "
            f"{_n(edge, 'from')} leads that data ({edge.leader_reason})"
        )
    return None


def _p201(edge: EdgeFacts) -> str | None:
    if _state(edge) and not edge.source_is_leader:
        return (
            f"{_consumer(edge)} takes the event as state; {_n(edge, 'from')} is not the data "
            f"leader ({edge.leader_reason})"
        )
    return None


def _a401(edge: EdgeFacts) -> str | None:
    p = edge.polling
    if p is None:
        return None
    return polling_reason(p, edge.target.name)


def polling_reason(p: Polling, target: str) -> str:
    """A401's reason; the classifier also rewrites it alone when only new job runs arrived."""
    return (
        f"{p.job} scans {', '.join(p.tables)} every {p.period_s:.3g} s ({p.runs} runs) and "
        f"copies into {target}"
    )


RULES: tuple[Rule, ...] = (
    Rule(
        id="P101",
        name="graphql-bff",
        level="system",
        verdict=Verdict.PATTERN,
        summary="A webapp queries the webapp BFF with a GraphQL operation.",
        rationale=(
            "Our webapps reach the backend only through GraphQL on the webapp BFF: Apollo caches "
            "what queries return, so the webapp does no hand-made caching, and the BFF is the one "
            "place that aggregates the REST APIs behind it."
        ),
        section="System integration › Calling › Aggregating GraphQL from REST API",
        example="The Shortlist page runs `query Shortlist` against the webapp BFF.",
        fix="Nothing to do: this is the pattern.",
        predicate=_p101,
    ),
    Rule(
        id="P102",
        name="rest-between-backends",
        level="system",
        verdict=Verdict.PATTERN,
        summary=(
            "A backend, worker, job or the BFF calls another system's REST API (the BFF "
            "aggregating REST APIs is this pattern)."
        ),
        rationale=(
            "Between backend systems the call goes over REST, with a contract each side can "
            "version on its own release cycle. The BFF reaching the REST APIs it aggregates is "
            "the same thing seen from the BFF."
        ),
        section="System integration › Calling › REST API",
        example="The orders backend GETs /customers/{id} from the customers system.",
        fix="Nothing to do: this is the pattern.",
        predicate=_p102,
    ),
    Rule(
        id="P103",
        name="rest-allowed-webapp",
        level="system",
        verdict=Verdict.PATTERN,
        summary="A webapp on the landscape's exception list (the provider portal) calls REST.",
        rationale=(
            "The guideline makes one named exception to GraphQL-only webapps: the provider portal "
            "works on single entities and predates our GraphQL, so REST is fine there. The "
            "landscape file's `exceptions.rest_allowed_webapps` lists such webapps."
        ),
        section="System integration › Calling › REST API",
        example="The provider portal POSTs to the comms service's REST API.",
        fix="Nothing to do: the exception is declared in the landscape file.",
        predicate=_p103,
    ),
    Rule(
        id="P201",
        name="ecst-eventbridge",
        level="system",
        verdict=Verdict.PATTERN,
        summary=(
            "An EventBridge event from a source that is not the data leader (a vendor or a "
            "non-leading system), taken by the consumer as state."
        ),
        rationale=(
            "Event-carried state transfer over EventBridge works when the source does not lead "
            "the data: later changes at the source need not reach the listeners, so order and "
            "completeness of the events do not matter. The source may be a vendor's partner "
            "event source, as in the guideline's own Auth0 example."
        ),
        section="System integration › Listening › ECST via EventBridge",
        example="Auth0 user-created → EventBridge → a consumer creates the user in Mailchimp.",
        fix="Nothing to do: this is the pattern.",
        predicate=_p201,
        note=(
            "DESIGN.md names only traced producers; the guideline's example has a vendor as the "
            "source, so a consumer's events are also joined to vendors by event source pattern."
        ),
    ),
    Rule(
        id="P202",
        name="event-notification-eventbridge",
        level="system",
        verdict=Verdict.PATTERN,
        summary="An EventBridge event whose consumer calls the source back while handling it.",
        rationale=(
            "EventBridge does not keep events in order, so an event is a notification: the "
            "consumer asks the source for the current state instead of trusting the payload."
        ),
        section="System integration › Listening › Event Notification via EventBridge",
        example="OrderChanged → EventBridge → a consumer GETs /orders/{id} from the orders system.",
        fix="Nothing to do: this is the pattern.",
        predicate=_p202,
    ),
    Rule(
        id="P301",
        name="dynamodb-direct-hit",
        level="component",
        verdict=Verdict.PATTERN,
        summary="A component reads or writes a table its own system owns.",
        rationale=(
            "Inside one system, components use each other's tables directly instead of building "
            "an API layer: they are released together, so the table is the contract and no "
            "bounded-context ceremony is needed."
        ),
        section="Component integration › Calling › DynamoDB direct hit",
        example="The inventory worker queries the Inventory table through its repository.",
        fix="Nothing to do: this is the pattern.",
        predicate=_p301,
    ),
    Rule(
        id="P302",
        name="third-party-api",
        level="external",
        verdict=Verdict.PATTERN,
        summary="A component calls a vendor's API (through the vendor's SDK or a thin client).",
        rationale=(
            "Data that lives at a vendor (Auth0, Mailchimp, Ghost, Algolia) is only reachable "
            "through the vendor's API; use the vendor's SDK, or a thin client of our own."
        ),
        section="Component integration › Calling › REST API / GraphQL",
        example="The signup consumer POSTs the new user to Mailchimp.",
        fix="Nothing to do: this is the pattern. Prefer the vendor's SDK where one exists.",
        predicate=_p302,
    ),
    Rule(
        id="P303",
        name="webapp-component-api",
        level="component",
        verdict=Verdict.PATTERN,
        summary=(
            "REST or GraphQL between components of one system where one end serves the webapp "
            "(a webapp, or the BFF aggregating its own system's APIs)."
        ),
        rationale=(
            "A webapp cannot hit a table, so inside its own system it has to call an API; the "
            "BFF exists to aggregate REST APIs for the webapp, so its calls count the same way."
        ),
        section="Component integration › Calling › REST API / GraphQL",
        example="The provider portal's frontend calls its own system's bookings API.",
        fix="Nothing to do: this is the pattern.",
        predicate=_p303,
        note=(
            "DESIGN.md counted only webapps; the guideline's BFF aggregates REST APIs by design, "
            "so a BFF calling its own system's REST API is this pattern, not smell A303."
        ),
    ),
    Rule(
        id="P401",
        name="dynamodb-streams",
        level="component",
        verdict=Verdict.PATTERN,
        summary="A component consumes the stream of a table its own system owns.",
        rationale=(
            "DynamoDB Streams need no middleware, keep the order of changes, and let the "
            "consumer treat a record as notification or as state, as it prefers."
        ),
        section="Component integration › Listening › DynamoDB streams",
        example="An inventory indexer reads the Inventory table's stream and updates Algolia.",
        fix="Nothing to do: this is the pattern.",
        predicate=_p401,
    ),
    Rule(
        id="P402",
        name="component-messaging",
        level="component",
        verdict=Verdict.PATTERN,
        summary="SQS, SNS or Kinesis between components of one system.",
        rationale=(
            "EventBridge is for system-to-system events; the other AWS messaging services suit "
            "integration between the components of one system."
        ),
        section="System integration › Listening › Event Notification via EventBridge",
        example="The orders API sends jobs to the orders worker through an SQS queue.",
        fix="Nothing to do: this is the pattern.",
        predicate=_p402,
    ),
    Rule(
        id="A101",
        name="webapp-bypasses-bff",
        level="system",
        verdict=Verdict.ANTI_PATTERN,
        summary=(
            "A webapp (not on the exception list) calls another system's API directly, or the "
            "BFF over REST, instead of GraphQL through the BFF."
        ),
        rationale=(
            "Webapps must use GraphQL against the BFF: Apollo's caching only works for GraphQL, "
            "and a webapp that calls backends directly takes on their contracts and their "
            "caching by hand."
        ),
        section="System integration › Calling › Aggregating GraphQL from REST API",
        example="The Shortlist webapp GETs /inventory/{id} from the inventory system.",
        fix=(
            "Add the query to the webapp BFF's GraphQL schema (resolved from the REST API) and "
            "query the BFF; or, if this webapp is like the provider portal, list it under "
            "exceptions.rest_allowed_webapps."
        ),
        predicate=_a101,
        note="DESIGN.md covered REST only; a webapp calling the BFF over REST breaks it as well.",
    ),
    Rule(
        id="A102",
        name="backend-calls-bff",
        level="system",
        verdict=Verdict.ANTI_PATTERN,
        summary="Anything but a webapp calls the webapp BFF's GraphQL.",
        rationale=(
            "The BFF's GraphQL is shaped for and owned by the webapps; backends that use it tie "
            "themselves to the webapp's needs and releases. Backends talk REST to each other."
        ),
        section="System integration › Calling › REST API",
        example="The reporting job POSTs `query AllShortlists` to the webapp BFF.",
        fix="Call the REST API of the system that owns the data instead of the BFF.",
        predicate=_a102,
    ),
    Rule(
        id="A201",
        name="ecst-from-data-leader",
        level="system",
        verdict=Verdict.ANTI_PATTERN,
        summary=(
            "EventBridge events from the data leader consumed as state, without calling the "
            "source back."
        ),
        rationale=(
            "EventBridge does not keep order. When the source leads the data and changes it "
            "often, a consumer that stores the payloads can apply them out of order and keep a "
            "stale copy; such events must be treated as notifications."
        ),
        section="System integration › Listening › Event Notification via EventBridge",
        example="OrderUpdated → EventBridge → a consumer writes the payload into its own table.",
        fix=(
            "Treat the event as a notification: fetch the current state from the source's API "
            "while handling it (or, inside one system, listen to the table's stream)."
        ),
        predicate=_a201,
    ),
    Rule(
        id="A202",
        name="system-events-off-eventbridge",
        level="system",
        verdict=Verdict.ANTI_PATTERN,
        summary="SQS, SNS or Kinesis carries events between two systems.",
        rationale=(
            "Between systems the guideline listens through EventBridge, which copes with many "
            "consumers and with several AWS accounts; the other messaging services are meant "
            "for integration inside one system."
        ),
        section="System integration › Listening",
        example="The orders system sends to a queue that the billing system reads.",
        fix="Publish the event on EventBridge and let the other system subscribe with a rule.",
        predicate=_a202,
    ),
    Rule(
        id="A301",
        name="cross-system-dynamodb-hit",
        level="system",
        verdict=Verdict.ANTI_PATTERN,
        summary="A component hits a table that another system owns.",
        rationale=(
            "Direct hits are fine only while you live inside one system; across systems, which "
            "are released separately, a table is no contract and any change to it breaks the "
            "other side."
        ),
        section="Component integration › Calling › DynamoDB direct hit",
        example="The billing backend queries the Orders table of the orders system.",
        fix="Call the owning system's REST API, or listen to its EventBridge events.",
        predicate=_a301,
    ),
    Rule(
        id="A302",
        name="cross-system-stream",
        level="system",
        verdict=Verdict.ANTI_PATTERN,
        summary="A component consumes the stream of a table that another system owns.",
        rationale=(
            "A table stream exposes the owner's storage layout; it is a component-level "
            "listening pattern, and another system that reads it is coupled to that layout."
        ),
        section="Component integration › Listening › DynamoDB streams",
        example="The search system reads the stream of the inventory system's table.",
        fix="Have the owning system publish EventBridge events and subscribe to those.",
        predicate=_a302,
    ),
    Rule(
        id="A303",
        name="rest-inside-system",
        level="component",
        verdict=Verdict.SMELL,
        summary=(
            "REST or GraphQL between two components of one system, neither of them serving the "
            "webapp."
        ),
        rationale=(
            "Inside a system an API is the last resort: the components ship together, so a "
            "direct table hit or a listener saves designing and running an API layer."
        ),
        section="Component integration › Calling › REST API / GraphQL",
        example="The orders worker GETs /orders/{id} from the orders API.",
        fix="Read the table directly (repository), or listen to its stream.",
        predicate=_a303,
    ),
    Rule(
        id="A401",
        name="polling-replication",
        level="any",
        verdict=Verdict.ANTI_PATTERN,
        summary=(
            "A recurring job (at least three runs at a steady period) scans or queries a table "
            "and copies what it read into another store."
        ),
        rationale=(
            "Replicating by a cron job lags behind, and turning up the frequency makes tracking "
            "what was already copied a chore; for replication, listening comes first."
        ),
        section="Considerations",
        example="A job scans the Inventory table every 5 s and pushes every item to Algolia.",
        fix="Listen instead: consume the table's DynamoDB stream (or the owner's events).",
        predicate=_a401,
    ),
)

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}

CATALOG_VERSION = hashlib.sha256(
    Path(__file__).read_bytes()
    + Path(model.__file__).read_bytes()
    + Path(__file__).with_name("derive.py").read_bytes()
).hexdigest()[:12]
"""Changes with any change to the rules, the facts they read or how those facts are derived
(derive.py, which imports this module): a store classified with another catalog is labelled
again (classifier_state.catalog)."""


def _nothing(edge: EdgeFacts) -> str | None:
    return None


UNRULED_MECHANISMS = ("s3", "lambda")
"""Mechanisms the guideline has no rule for: their edges are unclassified whatever the facts."""

UNCLASSIFIED_RULE = Rule(
    id=UNCLASSIFIED,
    name=UNCLASSIFIED,
    level="any",
    verdict=Verdict.UNCLASSIFIED,
    summary="No rule of the catalog labels this integration; the reason says why.",
    rationale=(
        "The guideline names no pattern for it, or a rule would, but what it decides on is not "
        "known: the resource's owner, a consumer's work. Look at it and decide."
    ),
    section="",
    example="",
    fix=(
        "Where the reason names something to declare or to set (an owner under [owners], a "
        "component's service.namespace), do that; where the guideline has no rule for it, "
        "change the integration to a known pattern or extend the catalog."
    ),
    predicate=_nothing,
)
"""What the TUI shows for an unclassified edge (the catalog's rules never yield it)."""

UNRESOLVED_RULE = Rule(
    id=UNRESOLVED,
    name=UNRESOLVED,
    level="any",
    verdict=Verdict.UNRESOLVED,
    summary="The spans lack a fact that the label needs; the reason says which.",
    rationale=(
        "A label that is confidently wrong costs more trust than a missing one: where no span "
        "names the queue, the stream or the event, one side of a listening integration was "
        "never seen, or a component's system is unknown (and with it whether the edge crosses "
        "systems), seamscope says so instead of guessing. It is no finding: `seamscope check` "
        "lists it and does not fail."
    ),
    section="",
    example=(
        "A Go service's PutEvents span carries no bus, source or detail-type, and the queue "
        "its rule feeds has no sender."
    ),
    fix=(
        "Supply the missing fact: the attribute the reason names (`service.namespace` for a "
        "system; seamscope's Python hooks add most of the others), the landscape file "
        "(a component under [systems], [[routes]]), the account's wiring (`seamscope discover "
        "aws`), or trace the side that was not seen."
    ),
    predicate=_nothing,
)
"""What an edge with a missing fact gets (EdgeFacts.missing), before any rule is tried."""


def rule_for(rule_id: str, verdict: str) -> Rule:
    """The rule an edge names; a bare record for an id this catalog does not have (a store
    classified by another version)."""
    if rule_id in RULES_BY_ID:
        return RULES_BY_ID[rule_id]
    if rule_id == UNCLASSIFIED:
        return UNCLASSIFIED_RULE
    if rule_id == UNRESOLVED:
        return UNRESOLVED_RULE
    return Rule(rule_id, rule_id, "?", Verdict(verdict), "", "", "", "", "", _nothing)


# Which rule wins when several apply to an edge: evidence of a recurring copy beats the
# mechanism's own verdict; otherwise predicates are disjoint by construction.
PRECEDENCE: tuple[str, ...] = (
    "A401",
    "A102",
    "P101",
    "A101",
    "P103",
    "P102",
    "P303",
    "A303",
    "P302",
    "P301",
    "A301",
    "P401",
    "A302",
    "P402",
    "A202",
    "P202",
    "A201",
    "P201",
)


@dataclass(frozen=True, slots=True)
class Label:
    """What the catalog says of an edge: the rule, its verdict, and why."""

    rule_id: str
    verdict: Verdict
    reason: str


def evaluate(edge: EdgeFacts) -> Label:
    """Unresolved when a needed fact is missing; else the first rule (in PRECEDENCE) whose
    predicate holds, else unclassified with a reason. What was inferred on the way follows the
    reason."""
    if edge.missing is not None:
        return Label(UNRESOLVED, Verdict.UNRESOLVED, edge.missing)
    for rule_id in PRECEDENCE:
        rule = RULES_BY_ID[rule_id]
        reason = rule.predicate(edge)
        if reason is not None:
            return Label(rule.id, rule.verdict, _noted(reason, edge))
    return Label(UNCLASSIFIED, Verdict.UNCLASSIFIED, _noted(_why_unclassified(edge), edge))


def _noted(reason: str, edge: EdgeFacts) -> str:
    return "; ".join((reason, *edge.notes))


def _why_unclassified(edge: EdgeFacts) -> str:
    if edge.mechanism in ("dynamodb", "dynamodb-streams") or (
        edge.mechanism in MESSAGING and not edge.owner_known
    ):
        if not edge.owner_known:
            why = f", {edge.owner_how}" if edge.owner_how else ""
            return (
                f"owner of {edge.via or edge.target.name} unknown{why}: declare it under [owners]"
            )
    if edge.mechanism == "eventbridge":
        if edge.target.node_type != "component":
            return "no consumer of these events was seen"
        if not edge.handling.observed:
            return "the consumer did no observable work while handling the events"
    if edge.mechanism in UNRULED_MECHANISMS:
        return f"the guideline has no rule for {edge.mechanism}"
    if edge.mechanism == "graphql":
        return "GraphQL between backends to an API that is not the webapp BFF"
    return "no rule of the catalog covers this integration"
