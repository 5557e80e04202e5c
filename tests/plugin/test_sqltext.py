"""What the plugin reads from a query's SQL: which columns are aggregates, and one-row queries."""

from __future__ import annotations

import pytest

from codegen.sqltext import Analysis, analyse


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM t",
        "select COUNT(*) from t where a = $1",
        "SELECT count(*) AS n FROM t, u WHERE t.id = u.id ORDER BY 1",
        "SELECT DISTINCT count(*) FROM t",
        "WITH gone AS (DELETE FROM t RETURNING id) SELECT count(*) FROM gone",
        "SELECT count(*) FROM t WHERE id IN (SELECT id FROM u GROUP BY id HAVING count(*) > 1)",
        "SELECT count(*) FILTER (WHERE a > 1)::integer total FROM t",
        "SELECT pg_catalog.count(*), sum(a)::double precision FROM t",
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY a) FROM t",
        # Clause words inside strings, comments and dollar quotes are not clauses.
        "SELECT count(*) FROM t WHERE a = 'x group by y' -- limit 1\n"
        "AND b = E'it\\'s LIMIT' /* outer /* nested */ HAVING */ AND c = $q$ UNION $q$",
    ],
)
def test_aggregates_without_group_by_return_one_row(sql: str) -> None:
    assert analyse(sql, 1).one_row


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a, count(*) FROM t GROUP BY a",
        "SELECT count(*) FROM t HAVING count(*) > 1",
        "SELECT count(*) FROM t LIMIT 1",
        "SELECT count(*) FROM t OFFSET 1",
        "SELECT count(*) OVER () FROM t",
        "SELECT count(*) FROM t UNION ALL SELECT count(*) FROM u",
        "SELECT count(*), generate_series(1, 3) FROM t",
        "SELECT count(*) + 1 FROM t",
        "SELECT a FROM t",
        "INSERT INTO t (a) SELECT count(*) FROM u RETURNING a",
        "SELECT count(*) FROM t WHERE a = 'unterminated",
    ],
)
def test_other_queries_may_return_no_row_or_several(sql: str) -> None:
    assert not analyse(sql, 1).one_row


def test_aggregates_but_count_may_be_null_and_other_columns_are_as_sqlc_says() -> None:
    sql = """
        SELECT a,
               count(*), count(DISTINCT b) AS c, regr_count(a, b),
               sum(a), avg(a)::numeric AS average, "max"(a) m, min(a) FILTER (WHERE a > 0),
               string_agg(b, ',' ORDER BY b), sum(a) OVER (PARTITION BY b),
               lower(b), count(*) > 0 AS any, coalesce(sum(a), 0),
               (SELECT count(*) FROM u), (SELECT max(a) FROM u), (SELECT a FROM u LIMIT 1)
        FROM t GROUP BY a, b
    """

    analysis = analyse(sql, 16)

    assert analysis == Analysis(
        one_row=False,
        nullable=(
            *(None, False, False, False),
            *(True, True, True, True, True, True),
            *(None, None, None),
            *(False, True, True),
        ),
    )


def test_columns_are_left_alone_when_the_list_does_not_match_them() -> None:
    assert analyse("SELECT *, sum(a) FROM t", 3).nullable is None
    assert analyse("UPDATE t SET a = 1 RETURNING a", 1) == Analysis(one_row=False, nullable=None)
