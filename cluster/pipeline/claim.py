"""Claiming the output root for a command: checked writable, leased to this run so that no
other run writes there meanwhile (cluster/lease.py), with the config it runs under beside
the results. Light to import: the select pass claims the root without loading torch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import yaml

from cluster import lease
from cluster.store import Store
from schemas.layout import RUN


@contextmanager
def claimed(cfg, store: Store) -> Iterator[Store]:
    """The output root for the block; the lease is given back on leaving."""
    store.check_writable()
    with lease.held(store, cfg.output.lease_ttl_s, lease.command_line()):
        store.write_text(RUN.config, yaml.safe_dump(cfg.model_dump(), sort_keys=False))
        yield store
