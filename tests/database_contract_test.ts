import { openEmbedded, openPostgres } from "./contracts/adapters.ts";
import { databaseContract } from "./contracts/database_contract.ts";

databaseContract("PostgreSQL (postgres.js)", openPostgres);
databaseContract("PostgreSQL (postgres.js), exclusive claims", openPostgres, { exclusive: true });
databaseContract("PGlite", openEmbedded, { exclusive: true });
