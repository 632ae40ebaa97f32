// Prisma 7: the datasource URL lives here, not in the schema.
import "dotenv/config";
import { defineConfig, env } from "prisma/config";

export default defineConfig({
  schema: "db/schema.prisma",
  migrations: {
    path: "db/migrations",
  },
  datasource: {
    url: env("DATABASE_URL"),
  },
});
