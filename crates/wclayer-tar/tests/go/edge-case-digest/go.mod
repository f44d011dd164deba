module wclayer/edge-case-digest

go 1.19
