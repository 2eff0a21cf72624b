-- SQLite workload for bench/programs.py (run as: sqlite3 :memory: ".parameter set @n N" ".read THIS").
-- Builds @n rows in an in-memory database (every page comes from malloc), indexes them, updates and deletes
-- a share of them, and prints aggregates; the runner compares the printed results with glibc's.
-- The values are arithmetic functions of the row number (no random()), so every run prints the same.
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL, data BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < @n)
INSERT INTO t SELECT x, (x * 2654435761) % 1009, printf('name-%d-%s', (x * 40503) % 100003, hex(x)),
                     ((x * 7919) % 100000) / 7.0, zeroblob((x % 50) * 8) FROM c;
CREATE INDEX t_grp ON t(grp);
CREATE INDEX t_name ON t(name);
CREATE INDEX t_val ON t(val, grp);
SELECT 'built', count(*), sum(grp), printf('%.3f', total(val)), sum(length(data)) FROM t;
UPDATE t SET name = name || '-u', val = val * 1.5, data = zeroblob(length(data) + 40) WHERE id % 3 = 0;
DELETE FROM t WHERE id % 7 = 0;
UPDATE t SET grp = (grp * 31 + 7) % 1009 WHERE id % 5 = 1;
SELECT 'changed', count(*), sum(grp), printf('%.3f', total(val)), sum(length(data)) FROM t;
SELECT 'groups', count(*), max(c), min(c) FROM (SELECT grp, count(*) AS c FROM t GROUP BY grp);
SELECT 'top', grp, count(*), printf('%.3f', avg(val)) FROM t GROUP BY grp ORDER BY count(*) DESC, grp LIMIT 5;
SELECT 'names', count(DISTINCT substr(name, 1, 8)), min(name), max(name) FROM t;
SELECT 'range', count(*), printf('%.3f', sum(val)) FROM t WHERE val BETWEEN 1000 AND 5000;
SELECT 'join', count(*) FROM t AS a JOIN t AS b ON b.id = a.id + 1 WHERE a.grp = b.grp % 1009;
SELECT 'like', count(*) FROM t WHERE name LIKE 'name-1%-u';
DELETE FROM t WHERE grp < 500;
VACUUM;
SELECT 'final', count(*), sum(grp), printf('%.3f', total(val)) FROM t;
SELECT 'ok';
