# terraform apply -var-file=example.tfvars (after filling in the blanks);
# join_key comes from `orchestrator join-key`, given on the command line or
# through TF_VAR_join_key, never committed.
region              = "eu-central-1"
environment         = "production"
cluster_name        = "startales"
database_subnet_ids = ["subnet-aaaa1111", "subnet-bbbb2222"]
snapshot_bucket     = "startales-production-snapshots"
orchestrator_image  = "ghcr.io/startales/orchestrator:0.1.0"
game_server_image   = "ghcr.io/startales/game-server:0.1.0"
join_public_key     = "REPLACE: the public key printed by `orchestrator join-key`"
public_url          = "https://play.example.com"
warm_servers        = 2
