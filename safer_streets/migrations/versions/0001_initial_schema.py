"""The initial schema: places, partners and people, routing, reports, email, the safety board

Revision ID: 0001
Revises:
Create Date: 2026-12-03 16:00:00.000000

One migration for the whole schema as it stood before the first deployment. Every later change
is a migration of its own, numbered in order after this one.

Names follow the models' naming convention (``safer_streets.db``): ``pk_<table>``,
``uq_<table>_<column>``, ``fk_<table>_<column>_<referred table>``, ``ck_<table>_<name>``,
``ix_<table>_<column>``; GeoAlchemy2 names spatial indexes ``idx_<table>_<column>``. They are
written out in full so that this migration never depends on the models as they will be later;
check constraints' names are marked final (``op.f``), as Alembic would otherwise put them
through the naming convention a second time.
Statuses, roles and other choices are VARCHAR(32) checked by the application (the enums in
``safer_streets.models``), so adding a value needs no migration.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SRID = 4326  # WGS84 longitude/latitude, as phones and maps give them
CHOICE = sa.String(32)  # a value of one of the models' enums
# What routing reads: a change to any of these tables makes the worker reload them.
ROUTING_TABLES = ("routing_rule", "ward", "area", "partner", "partner_sla", "category")


def _geometry(geometry_type: str) -> Geometry:
    # Spatial indexes are created below by name, so that every index is visible in this file.
    return Geometry(geometry_type, srid=SRID, spatial_index=False)


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _when(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def _fk(name: str, target: str, constraint: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Integer(), sa.ForeignKey(target, name=constraint), nullable=nullable)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    # ---- Places: wards (versioned boundaries) and named areas (town centres) ----------------
    op.create_table(
        "ward",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(9), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("slug", sa.String(100), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("geom", _geometry("MULTIPOLYGON"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ward"),
        sa.UniqueConstraint("code", "generation", name="code_generation"),
    )
    op.create_index("idx_ward_geom", "ward", ["geom"], postgresql_using="gist")
    op.create_table(
        "area",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("geom", _geometry("MULTIPOLYGON"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_area"),
        sa.UniqueConstraint("slug", name="uq_area_slug"),
    )
    op.create_index("idx_area_geom", "area", ["geom"], postgresql_using="gist")

    # ---- Partners, categories and accounts ---------------------------------------------------
    op.create_table(
        "partner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(80), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("hours_to_acknowledge", sa.Integer(), nullable=True),
        sa.Column("hours_to_resolve", sa.Integer(), nullable=True),
        sa.Column("ward_code", sa.String(9), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_partner"),
        sa.UniqueConstraint("slug", name="uq_partner_slug"),
    )
    op.create_table(
        "category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(80), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("group", sa.String(80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.Column("emergency_notice", sa.Boolean(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_category"),
        sa.UniqueConstraint("slug", name="uq_category_slug"),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("role", CHOICE, nullable=False),  # models.Role
        _fk("partner_id", "partner.id", "fk_app_user_partner_id_partner"),
        sa.Column("active", sa.Boolean(), nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_app_user"),
        sa.UniqueConstraint("email", name="uq_app_user_email"),
    )
    op.create_table(
        "user_security",
        _fk("user_id", "app_user.id", "fk_user_security_user_id_app_user", nullable=False),
        sa.Column("totp_secret", sa.String(64), nullable=True),
        _when("totp_confirmed_at"),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        _when("sessions_valid_after"),
        _when("last_login_at"),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_security"),
    )
    op.create_table(
        "partner_preference",
        _fk("partner_id", "partner.id", "fk_partner_preference_partner_id_partner", nullable=False),
        # models.NewReportEmails
        sa.Column("new_report_emails", CHOICE, server_default="immediate", nullable=False),
        sa.PrimaryKeyConstraint("partner_id", name="pk_partner_preference"),
    )
    op.create_table(
        "partner_sla",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("partner_id", "partner.id", "fk_partner_sla_partner_id_partner", nullable=False),
        _fk("category_id", "category.id", "fk_partner_sla_category_id_category", nullable=False),
        sa.Column("hours_to_acknowledge", sa.Integer(), nullable=False),
        sa.Column("hours_to_resolve", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "hours_to_acknowledge > 0 AND hours_to_resolve >= hours_to_acknowledge",
            name=op.f("ck_partner_sla_sla_hours"),
        ),
        sa.PrimaryKeyConstraint("id", name="pk_partner_sla"),
        sa.UniqueConstraint("partner_id", "category_id", name="partner_sla_identity"),
    )
    op.create_table(
        "response_template",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("partner_id", "partner.id", "fk_response_template_partner_id_partner", nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_response_template"),
        sa.UniqueConstraint("partner_id", "title", name="response_template_title"),
    )
    op.create_index("ix_response_template_partner_id", "response_template", ["partner_id"])

    # ---- Routing: the rules as data, their history, and the version the worker watches ------
    op.create_table(
        "routing_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("category_id", "category.id", "fk_routing_rule_category_id_category"),
        _fk("ward_id", "ward.id", "fk_routing_rule_ward_id_ward"),
        _fk("partner_id", "partner.id", "fk_routing_rule_partner_id_partner", nullable=False),
        sa.Column("role", CHOICE, nullable=False),  # models.RuleRole
        sa.Column("active", sa.Boolean(), nullable=False),
        _fk("area_id", "area.id", "fk_routing_rule_area_id_area"),
        sa.Column("window_start", sa.Time(), nullable=True),
        sa.Column("window_end", sa.Time(), nullable=True),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.CheckConstraint(
            "ward_id IS NULL OR area_id IS NULL", name=op.f("ck_routing_rule_one_place")
        ),
        sa.CheckConstraint(
            "(window_start IS NULL) = (window_end IS NULL) "
            "AND (window_start IS NULL OR window_start <> window_end)",
            name=op.f("ck_routing_rule_time_window"),
        ),
        sa.PrimaryKeyConstraint("id", name="pk_routing_rule"),
        # One row per distinct rule; a missing condition (NULL) counts as a value here.
        sa.UniqueConstraint(
            "category_id",
            "ward_id",
            "area_id",
            "window_start",
            "window_end",
            "reason",
            "partner_id",
            "role",
            name="rule_identity",
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index("ix_routing_rule_lookup", "routing_rule", ["category_id", "ward_id"])
    op.create_table(
        "routing_rule_change",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk(
            "rule_id",
            "routing_rule.id",
            "fk_routing_rule_change_rule_id_routing_rule",
            nullable=False,
        ),
        _now("at"),
        _fk("actor_id", "app_user.id", "fk_routing_rule_change_actor_id_app_user"),
        sa.Column("action", CHOICE, nullable=False),  # models.RuleChange
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("before", JSONB(), nullable=True),
        sa.Column("after", JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_routing_rule_change"),
    )
    op.create_index("ix_routing_rule_change_rule_at", "routing_rule_change", ["rule_id", "at"])
    op.create_table(
        "routing_data_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_routing_data_version_single_row")),
        sa.PrimaryKeyConstraint("id", name="pk_routing_data_version"),
    )
    op.execute("INSERT INTO routing_data_version (id, version) VALUES (1, 1)")
    # The worker keeps the rules, wards, areas and service levels in memory between batches
    # and reloads them when this number moves, however the change was made (admin pages, CSV
    # imports, the seed loader or SQL by hand).
    op.execute(
        """
        CREATE FUNCTION bump_routing_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE routing_data_version SET version = version + 1 WHERE id = 1;
            RETURN NULL;
        END $$
        """
    )
    for table in ROUTING_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_bumps_routing_data_version "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_routing_data_version()"
        )

    # ---- API clients (Open311 and the JSON API): only a hash of each key is kept ------------
    op.create_table(
        "api_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _fk("partner_id", "partner.id", "fk_api_client_partner_id_partner"),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        _now("created_at"),
        _fk("created_by_id", "app_user.id", "fk_api_client_created_by_id_app_user"),
        _when("last_used_at"),
        _when("revoked_at"),
        sa.PrimaryKeyConstraint("id", name="pk_api_client"),
        sa.UniqueConstraint("key_prefix", name="uq_api_client_key_prefix"),
    )

    # ---- Reports, the partners notified of them, their history, photos and support ----------
    op.create_table(
        "report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(12), nullable=False),
        _fk("category_id", "category.id", "fk_report_category_id_category", nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", _geometry("POINT"), nullable=True),
        sa.Column("location_text", sa.String(200), nullable=True),
        _when("occurred_at"),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("contact_email", sa.String(254), nullable=True),
        sa.Column("status", CHOICE, nullable=False),  # models.ReportStatus
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("request_fingerprint", sa.String(64), nullable=True),
        _fk("ward_id", "ward.id", "fk_report_ward_id_ward"),
        _fk("owner_partner_id", "partner.id", "fk_report_owner_partner_id_partner"),
        sa.Column("routing_reason", sa.Text(), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        _when("routed_at"),
        sa.Column("reasons", ARRAY(sa.String(40)), server_default="{}", nullable=False),
        sa.Column("after_dark", sa.Boolean(), nullable=True),
        sa.Column("street", sa.String(200), nullable=True),
        sa.Column("street_distance_m", sa.Float(), nullable=True),
        sa.Column("postcode", sa.String(8), nullable=True),
        sa.Column("supporter_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("priority", CHOICE, server_default="normal", nullable=False),  # models.Priority
        _fk("assigned_to_id", "app_user.id", "fk_report_assigned_to_id_app_user"),
        _fk("duplicate_of_id", "report.id", "fk_report_duplicate_of_id_report"),
        _when("acknowledge_due_at"),
        _when("resolve_due_at"),
        _when("acknowledged_at"),
        _when("resolved_at"),
        sa.Column("version_id", sa.Integer(), server_default="1", nullable=False),
        _fk("api_client_id", "api_client.id", "fk_report_api_client_id_api_client"),
        sa.Column("media_url", sa.String(2048), nullable=True),
        sa.Column("contact_name", sa.String(200), nullable=True),
        sa.Column("contact_phone", sa.String(40), nullable=True),
        sa.Column("open311_token", sa.String(40), nullable=True),
        # Deliberately not a foreign key (see models.Report.rule_owner_id).
        sa.Column("rule_owner_id", sa.Integer(), nullable=True),
        sa.Column("public_description", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "char_length(description) <= 4000", name=op.f("ck_report_description_length")
        ),
        sa.PrimaryKeyConstraint("id", name="pk_report"),
        sa.UniqueConstraint("reference", name="uq_report_reference"),
        sa.UniqueConstraint("idempotency_key", name="uq_report_idempotency_key"),
        sa.UniqueConstraint("open311_token", name="uq_report_open311_token"),
    )
    op.create_index("idx_report_location", "report", ["location"], postgresql_using="gist")
    # Distances in metres on the sphere (nearby reports, duplicates).
    op.create_index(
        "ix_report_location_geography",
        "report",
        [sa.text("(location::geography)")],
        postgresql_using="gist",
    )
    op.create_index("ix_report_owner_status", "report", ["owner_partner_id", "status"])
    op.create_index("ix_report_status_created", "report", ["status", "created_at"])
    op.create_index("ix_report_created_at", "report", ["created_at"])
    op.create_index("ix_report_api_client_id", "report", ["api_client_id"])
    # Queue pages: a partner's reports by age (also within a ward), and open reports by their
    # next deadline (to acknowledge until acknowledged, then to resolve).
    op.create_index(
        "ix_report_owner_created", "report", ["owner_partner_id", sa.text("created_at DESC")]
    )
    op.create_index("ix_report_ward_created", "report", ["ward_id", sa.text("created_at DESC")])
    op.create_index(
        "ix_report_open_due",
        "report",
        [
            sa.text(
                "COALESCE(CASE WHEN acknowledged_at IS NULL THEN acknowledge_due_at END, "
                "resolve_due_at)"
            ),
            "id",
        ],
        postgresql_where=sa.text(
            "status IN ('acknowledged', 'in_progress', 'needs_location', 'received', 'routed')"
        ),
    )
    op.create_table(
        "report_notified_partner",
        _fk(
            "report_id",
            "report.id",
            "fk_report_notified_partner_report_id_report",
            nullable=False,
        ),
        _fk(
            "partner_id",
            "partner.id",
            "fk_report_notified_partner_partner_id_partner",
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("report_id", "partner_id", name="pk_report_notified_partner"),
    )
    # A partner's queue finds the reports it is notified of.
    op.create_index(
        "ix_report_notified_partner_partner",
        "report_notified_partner",
        ["partner_id", "report_id"],
    )
    op.create_table(
        "report_event",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("report_id", "report.id", "fk_report_event_report_id_report", nullable=False),
        _now("at"),
        _fk("actor_id", "app_user.id", "fk_report_event_actor_id_app_user"),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("from_status", sa.String(32), nullable=True),
        sa.Column("to_status", sa.String(32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("data", JSONB(), nullable=False),
        _fk("api_client_id", "api_client.id", "fk_report_event_api_client_id_api_client"),
        sa.PrimaryKeyConstraint("id", name="pk_report_event"),
    )
    op.create_index("ix_report_event_report_id", "report_event", ["report_id"])
    # Open311 clients read updates by time window.
    op.create_index("ix_report_event_at", "report_event", ["at"])
    op.create_table(
        "report_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("report_id", "report.id", "fk_report_photo_report_id_report", nullable=False),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        _now("created_at"),
        _when("hidden_at"),
        _fk("hidden_by_id", "app_user.id", "fk_report_photo_hidden_by_id_app_user"),
        sa.CheckConstraint(
            "content_type IN ('image/jpeg', 'image/webp')",
            name=op.f("ck_report_photo_photo_content_type"),
        ),
        sa.PrimaryKeyConstraint("id", name="pk_report_photo"),
        # One photo per report.
        sa.UniqueConstraint("report_id", name="uq_report_photo_report_id"),
    )
    op.create_table(
        "report_support",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("report_id", "report.id", "fk_report_support_report_id_report", nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_report_support"),
        sa.UniqueConstraint("report_id", "key_hash", name="support_once"),
    )
    op.create_index("ix_report_support_report_id", "report_support", ["report_id"])

    # ---- Email outbox: written in the same transaction as the change that causes it ---------
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("recipient", sa.String(254), nullable=False),
        _fk("report_id", "report.id", "fk_email_outbox_report_id_report"),
        _fk("event_id", "report_event.id", "fk_email_outbox_event_id_report_event"),
        _fk("partner_id", "partner.id", "fk_email_outbox_partner_id_partner"),
        _fk("user_id", "app_user.id", "fk_email_outbox_user_id_app_user"),
        sa.Column("data", JSONB(), nullable=False),
        _now("created_at"),
        _when("sent_at"),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_email_outbox"),
        sa.UniqueConstraint("key", name="uq_email_outbox_key"),
    )
    op.create_index("ix_email_outbox_report_id", "email_outbox", ["report_id"])
    op.create_index(
        "ix_email_outbox_unsent",
        "email_outbox",
        ["created_at"],
        postgresql_where=sa.text("sent_at IS NULL"),
    )

    # ---- Abuse list: addresses and domains whose reports are held for review ----------------
    op.create_table(
        "abuse_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(254), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _fk("created_by_id", "app_user.id", "fk_abuse_entry_created_by_id_app_user"),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_abuse_entry"),
        sa.UniqueConstraint("value", name="uq_abuse_entry_value"),
    )

    # ---- Safety board: recorded crime, hotspot runs and their cells, published summaries ----
    op.create_table(
        "police_crime",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crime_key", sa.String(80), nullable=False),
        sa.Column("crime_id", sa.String(64), nullable=True),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("reported_by", sa.String(100), nullable=False),
        sa.Column("falls_within", sa.String(100), nullable=False),
        sa.Column("location", _geometry("POINT"), nullable=False),
        sa.Column("location_text", sa.String(200), nullable=False),
        sa.Column("lsoa_code", sa.String(9), nullable=False),
        sa.Column("lsoa_name", sa.String(100), nullable=False),
        sa.Column("crime_type", sa.String(80), nullable=False),
        sa.Column("last_outcome", sa.String(200), nullable=True),
        sa.Column("context", sa.Text(), nullable=True),
        _fk("ward_id", "ward.id", "fk_police_crime_ward_id_ward"),
        _now("imported_at"),
        sa.PrimaryKeyConstraint("id", name="pk_police_crime"),
        sa.UniqueConstraint("crime_key", name="uq_police_crime_crime_key"),
    )
    op.create_index(
        "idx_police_crime_location", "police_crime", ["location"], postgresql_using="gist"
    )
    op.create_index("ix_police_crime_month_type", "police_crime", ["month", "crime_type"])
    op.create_index("ix_police_crime_ward_id", "police_crime", ["ward_id"])
    op.create_table(
        "hotspot_run",
        sa.Column("id", sa.Integer(), nullable=False),
        _now("created_at"),
        _when("computed_at"),
        sa.Column("status", CHOICE, nullable=False),  # models.RunStatus
        sa.Column("parameters", JSONB(), nullable=False),
        sa.Column("parameters_key", sa.String(64), nullable=False),
        sa.Column("summary", JSONB(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _fk("requested_by_id", "app_user.id", "fk_hotspot_run_requested_by_id_app_user"),
        sa.PrimaryKeyConstraint("id", name="pk_hotspot_run"),
    )
    op.create_index(
        "ix_hotspot_run_lookup", "hotspot_run", ["parameters_key", "status", "computed_at"]
    )
    # Cells are read a run at a time, by the primary key: no spatial index.
    op.create_table(
        "hotspot_cell",
        sa.Column(
            "run_id",
            sa.Integer(),
            sa.ForeignKey(
                "hotspot_run.id", name="fk_hotspot_cell_run_id_hotspot_run", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("iy", sa.Integer(), nullable=False),
        sa.Column("ix", sa.Integer(), nullable=False),
        sa.Column("cell", _geometry("POLYGON"), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("z", sa.Float(), nullable=False),
        sa.Column("p", sa.Float(), nullable=False),
        sa.Column("p_sim", sa.Float(), nullable=True),
        sa.Column("q", sa.Float(), nullable=False),
        sa.Column("gi_bin", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("density", sa.Float(), nullable=False),
        sa.Column("emerging", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "iy", "ix", name="pk_hotspot_cell"),
    )
    op.create_table(
        "published_summary",
        sa.Column("id", sa.Integer(), nullable=False),
        _now("published_at"),
        _fk("published_by_id", "app_user.id", "fk_published_summary_published_by_id_app_user"),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("content", JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_published_summary"),
    )


def downgrade() -> None:
    # Tables go in the reverse order of their creation; their indexes, constraints and
    # triggers go with them. PostGIS stays: it is the database's, not this schema's.
    for table in (
        "published_summary",
        "hotspot_cell",
        "hotspot_run",
        "police_crime",
        "abuse_entry",
        "email_outbox",
        "report_support",
        "report_photo",
        "report_event",
        "report_notified_partner",
        "report",
        "api_client",
        "routing_data_version",
        "routing_rule_change",
        "routing_rule",
        "response_template",
        "partner_sla",
        "partner_preference",
        "user_security",
        "app_user",
        "category",
        "partner",
        "area",
        "ward",
    ):
        op.drop_table(table)
    op.execute("DROP FUNCTION bump_routing_data_version()")
