"""acme/fixtures: an action written in Python that loads fixture rows into a SQL table.

A flow seeds the data its steps expect, then checks the system under test against it:

    - id: seed
      action: acme/fixtures
      config:
        connection: ${DATABASE_URL}
        table: products
        replace: true
        rows:
          - { id: 1, name: Catan, price: 44.99 }

It talks to the database only through the host's `sql` interface, so it reaches exactly the
connections an administrator granted (`--grant sql:postgres://db:5432/*`).

Build: `componentize-py -d wit -w action componentize app -o acme_fixtures.wasm` in this directory.
"""

import json
import re

import wit_world
from componentize_py_types import Err
from wit_world.imports import log, sql, types

# Names are checked against this rather than quoted, so that they fold to lower case the way the
# flow's own unquoted `CREATE TABLE` did; nothing else reaches the statement text.
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")

CONFIG_SCHEMA = {
    "type": "object",
    "required": ["connection", "table", "rows"],
    "additionalProperties": False,
    "properties": {
        "connection": {"type": "string", "description": "Connection URL (postgres://…, sqlite://…)."},
        "table": {"type": "string", "description": "Table to insert into (`schema.table` allowed)."},
        "rows": {"type": "array", "items": {"type": "object"}, "description": "Rows, keyed by column."},
        "replace": {"type": "boolean", "default": False, "description": "Delete the table's rows first."},
    },
}

OUTPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "table": {"type": "string"},
        "inserted": {"type": "integer"},
        "deleted": {"type": "integer"},
    },
}


def invalid_config(path: str, message: str) -> Err:
    return Err(types.PluginError_InvalidConfig(types.ConfigProblem(path=path, message=message)))


def failed(message: str) -> Err:
    return Err(types.PluginError_Failed(message))




def execute(connection: str, statement: str, params: list) -> int:
    """Runs one statement through the host; a SQL error becomes the step's failure message."""
    try:
        return sql.query(connection, statement, json.dumps(params)).rows_affected
    except Err as error:
        reason = error.value
        if isinstance(reason, sql.Error_Connection):
            raise failed(f"cannot connect: {reason.value}") from None
        if isinstance(reason, sql.Error_Query):
            raise failed(f"{statement.split(' (')[0]}: {reason.value}") from None
        # A denial already says what was refused and to whom.
        raise failed(reason.value) from None


class WitWorld(wit_world.WitWorld):
    def describe(self) -> types.Descriptor:
        return types.Descriptor(
            name="acme/fixtures",
            version="0.1.0",
            kind=types.PluginKind.ACTION,
            summary="Loads fixture rows into a SQL table (optionally replacing its rows)",
            config_schema=json.dumps(CONFIG_SCHEMA),
            output_schema=json.dumps(OUTPUT_SCHEMA),
            aliases=[],
            operations=[],
            capabilities=[types.CapabilityRequest(capability="sql", reason="inserts the fixture rows")],
        )

    def run(self, call: wit_world.imports.action_types.ActionCall) -> str:
        config = json.loads(call.config)
        table = config.get("table")
        if not isinstance(table, str) or not IDENTIFIER.match(table):
            raise invalid_config("/table", "table must be a plain name such as `products` or `shop.products`")
        rows = config.get("rows")
        if not isinstance(rows, list):
            raise invalid_config("/rows", "rows must be a list of objects")
        connection = config.get("connection")
        if not isinstance(connection, str) or not connection:
            raise invalid_config("/connection", "connection is required (postgres://… or sqlite://…)")

        deleted = execute(connection, f"DELETE FROM {table}", []) if config.get("replace") else 0
        inserted = 0
        for index, row in enumerate(rows):
            if not isinstance(row, dict) or not row:
                raise invalid_config(f"/rows/{index}", "each row must be an object with at least one column")
            for column in row:
                if not IDENTIFIER.match(column) or "." in column:
                    raise invalid_config(f"/rows/{index}/{column}", f"`{column}` is not a column name")
            columns = ", ".join(row)
            placeholders = ", ".join(f"${n}" for n in range(1, len(row) + 1))
            statement = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
            inserted += execute(connection, statement, list(row.values()))
        log.write(types.Level.INFO, f"{table}: {deleted} rows deleted, {inserted} inserted")
        return json.dumps({"table": table, "inserted": inserted, "deleted": deleted})
