"""A real external client against `ecomsql serve`: the ADBC Flight SQL driver from PyPI.

Run by tests/integration/flight.rs (adbc_python_client) with the server's address and a user in
the environment: ECOMSQL_FLIGHT_URI, ECOMSQL_FLIGHT_USER, ECOMSQL_FLIGHT_PASSWORD, the
expected answers ECOMSQL_EXPECT_USERS, ECOMSQL_EXPECT_OVER_30, and ECOMSQL_FLIGHT_LOGINS: a JSON
list of [user, password] pairs that must each log in (the driver base64-encodes "user:password"
without padding, so the test gives one of each length mod 3). Exits non-zero with a message on
the first check that fails; prints one line per check.
"""

import json
import os
import sys

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow as pa
import pyarrow.compute as pc
from adbc_driver_manager import DatabaseOptions


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def connect(uri, user, password):
    return flightsql.connect(
        uri,
        db_kwargs={
            DatabaseOptions.USERNAME.value: user,
            DatabaseOptions.PASSWORD.value: password,
        },
    )


def check_login(uri, user, password):
    """A wrong password is refused as such (not as malformed credentials); the right one works."""
    n = len(f"{user}:{password}") % 3
    # "-wrong" is 6 characters: the wrong credentials have the same length mod 3.
    try:
        with connect(uri, user, password + "-wrong") as bad:
            with bad.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchall()
        check(False, f"{user}: a wrong password is refused")
    except Exception as e:  # the driver raises its own error types
        check("invalid user name or password" in str(e), f"{user} (length mod 3 = {n}): a wrong password is refused ({e})")
    with connect(uri, user, password) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT 7 AS seven")
            check(cur.fetchall() == [(7,)], f"{user} (length mod 3 = {n}) logs in and queries")


def main():
    uri = os.environ["ECOMSQL_FLIGHT_URI"]
    user = os.environ["ECOMSQL_FLIGHT_USER"]
    password = os.environ["ECOMSQL_FLIGHT_PASSWORD"]
    expect_users = int(os.environ["ECOMSQL_EXPECT_USERS"])
    expect_over_30 = int(os.environ["ECOMSQL_EXPECT_OVER_30"])
    logins = json.loads(os.environ["ECOMSQL_FLIGHT_LOGINS"])

    lengths = sorted({len(f"{u}:{p}") % 3 for u, p in logins})
    check(lengths == [0, 1, 2], f"logins cover every length mod 3 ({lengths})")
    for u, p in logins:
        check_login(uri, u, p)

    # A wrong password is refused at connect time.
    try:
        with connect(uri, user, password + "-wrong") as bad:
            with bad.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchall()
        check(False, "a wrong password is refused")
    except Exception as e:  # the driver raises its own error types
        check("password" in str(e).lower() or "unauth" in str(e).lower(), f"a wrong password is refused ({type(e).__name__})")

    with connect(uri, user, password) as conn:
        objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
        tables = {}
        for catalog in objects:
            for schema in catalog["catalog_db_schemas"] or []:
                for table in schema["db_schema_tables"] or []:
                    columns = [c["column_name"] for c in table["table_columns"] or []]
                    tables[(catalog["catalog_name"], schema["db_schema_name"], table["table_name"])] = columns
        users = tables.get(("ecomsql", "public", "users"))
        check(users is not None, f"adbc_get_objects lists ecomsql.public.users ({len(tables)} tables)")
        check("signup_ts" in users, "adbc_get_objects gives the columns of users")

        with conn.cursor() as cur:
            cur.execute("SELECT count(*) AS n FROM users")
            n = cur.fetch_arrow_table().column("n")[0].as_py()
            check(n == expect_users, f"query: {n} users")

            cur.execute("SELECT count(*) AS n FROM users WHERE age > $1", parameters=(30,))
            n = cur.fetch_arrow_table().column("n")[0].as_py()
            check(n == expect_over_30, f"prepared statement with a parameter: {n} users over 30")

            cur.execute("SELECT value AS v, value * 2 AS w FROM generate_series(1, 1000000)")
            table = cur.fetch_arrow_table()
            check(isinstance(table, pa.Table) and table.num_rows == 1_000_000, f"fetched {table.num_rows} rows as Arrow")
            total = pc.sum(table.column("v")).as_py()
            check(total == 1_000_000 * 1_000_001 // 2, "every row arrived once")

            try:
                cur.execute("SELEC nonsense")
                check(False, "bad SQL is an error")
            except Exception as e:
                check("SELEC" in str(e) or "sql" in str(e).lower(), "bad SQL is a clear error")
            cur.execute("SELECT 1 AS one")
            check(cur.fetchall() == [(1,)], "the connection works after an error")


if __name__ == "__main__":
    main()
