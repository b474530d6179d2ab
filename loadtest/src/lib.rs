//! Load generator for Startales: drives the orchestrator's HTTP API and the
//! game servers' WebSocket play protocol at set rates and reports latency
//! percentiles. Its scenarios are added together with the services they load.
