-- The next revision of a person's row is one past the largest: without an index that is a
-- scan of every resident on every edit, which made a district's import quadratic
-- (measured by `haitang-bench households`: 164 households/s at 20,000 and falling).
CREATE INDEX residents_rev ON residents(rev);
