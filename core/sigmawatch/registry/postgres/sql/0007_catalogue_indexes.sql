-- REG-5 at fleet scale: the catalogue answers in (series_id, version) order,
-- and without these a selective filter (detector, status) walks the primary
-- key until it finds a page, or the whole table when nothing matches.
-- Each index leads with its equality columns, then the order, so a filter
-- with or without a series prefix is one ordered range scan.

CREATE INDEX model_versions_by_detector ON model_versions (detector_kind, series_id, version);
CREATE INDEX model_versions_by_status ON model_versions (status, series_id, version);
CREATE INDEX model_versions_by_detector_status
    ON model_versions (detector_kind, status, series_id, version);
-- A creation range: scanned by time, then sorted (ranges are narrow or the
-- primary key walk finds a page at once); series_id, version come along so
-- the scan needs no table visit for the order.
DROP INDEX model_versions_created_at;
CREATE INDEX model_versions_created_at ON model_versions (created_at, series_id, version);
-- Production only: one version per series, found from the series row.
CREATE INDEX series_production ON series (series_id, production_version)
    WHERE production_version IS NOT NULL;
