from django.db import models


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    DEPRECATED = "deprecated", "Deprecated"
    RETIRED = "retired", "Retired"


# Products every signed-in user may see; drafts stay with their owner, stewards and admins.
PUBLIC_STATUSES = (Status.PUBLISHED, Status.DEPRECATED, Status.RETIRED)


class HypothesisStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    VALIDATED = "validated", "Validated"
    REJECTED = "rejected", "Rejected"


class Priority(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class Frequency(models.TextChoices):
    REAL_TIME = "real_time", "Real time"
    HOURLY = "hourly", "Hourly"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    AD_HOC = "ad_hoc", "Ad hoc"


class OutputKind(models.TextChoices):
    FILE = "file", "File under the data root"
    TABLE = "table", "Table behind a connection"


class OutputFormat(models.TextChoices):
    PARQUET = "parquet", "Parquet"
    CSV = "csv", "CSV"
    TABLE = "table", "Database table"


class DataType(models.TextChoices):
    STRING = "string", "String"
    INTEGER = "integer", "Integer"
    FLOAT = "float", "Float"
    DECIMAL = "decimal", "Decimal"
    BOOLEAN = "boolean", "Boolean"
    DATE = "date", "Date"
    TIMESTAMP = "timestamp", "Timestamp"


class ColumnRole(models.TextChoices):
    KEY = "key", "Key"
    DIMENSION = "dimension", "Dimension"
    MEASURE = "measure", "Measure"
    TIME = "time", "Time"
    ATTRIBUTE = "attribute", "Attribute"


class Classification(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    PII = "pii", "PII"


class MaskingMethod(models.TextChoices):
    REDACT = "redact", "Redact (***)"
    HASH = "hash", "Keyed hash (equal values stay joinable)"
    PARTIAL = "partial", "Partial (j***@example.com)"
    NULL = "null", "Null"


class ConnectionKind(models.TextChoices):
    POSTGRESQL = "postgresql", "PostgreSQL"
    SQLITE = "sqlite", "SQLite file under the data root"


class KPILevel(models.TextChoices):
    NORTH_STAR = "north_star", "North star"
    L1 = "l1", "Level 1 · outcome"
    L2 = "l2", "Level 2 · driver"
    L3 = "l3", "Level 3 · diagnostic"


KPI_LEVEL_DEPTH = {KPILevel.NORTH_STAR: 0, KPILevel.L1: 1, KPILevel.L2: 2, KPILevel.L3: 3}


class Aggregation(models.TextChoices):
    COUNT = "count", "Count of rows"
    COUNT_DISTINCT = "count_distinct", "Count distinct"
    SUM = "sum", "Sum"
    AVG = "avg", "Average"
    MIN = "min", "Minimum"
    MAX = "max", "Maximum"
    RATIO = "ratio", "Ratio of two measures"


class Grain(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"
    QUARTER = "quarter", "Quarter"
    YEAR = "year", "Year"


class Direction(models.TextChoices):
    UP = "up", "Higher is better"
    DOWN = "down", "Lower is better"


class IndicatorType(models.TextChoices):
    LEADING = "leading", "Leading"
    LAGGING = "lagging", "Lagging"


class KPIStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DEPRECATED = "deprecated", "Deprecated"


class AlertRule(models.TextChoices):
    NONE = "", "No alert"
    STATIC = "static", "Static thresholds"
    BASELINE = "baseline", "Dynamic baseline"


class SLOCategory(models.TextChoices):
    ARCHITECTURE = "architecture", "Architecture"
    QUALITY = "quality", "Quality"
    GOVERNANCE = "governance", "Governance"


class InputKind(models.TextChoices):
    OUTPUT = "output", "Another product's output"
    EXTERNAL = "external", "External source"
