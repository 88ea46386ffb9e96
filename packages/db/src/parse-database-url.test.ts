import { describe, expect, it } from "vitest";
import { parseDatabaseUrl } from "./parse-database-url.js";

describe("parseDatabaseUrl", () => {
  it("splits a URL into the fields pg and the adapter's shadow database need", () => {
    expect(
      parseDatabaseUrl("postgresql://noa:s%40cret@db.internal:6543/noa_prod?sslmode=verify-full"),
    ).toEqual({
      host: "db.internal",
      port: 6543,
      user: "noa",
      password: "s@cret",
      database: "noa_prod",
      ssl: { rejectUnauthorized: true },
    });
  });

  it("fills PostgreSQL's defaults and reads sslmode like libpq", () => {
    expect(parseDatabaseUrl("postgres://127.0.0.1")).toEqual({
      host: "127.0.0.1",
      port: 5432,
      user: "postgres",
      password: undefined,
      database: "postgres",
      ssl: false,
    });
    expect(parseDatabaseUrl("postgresql://h/d?sslmode=require").ssl).toEqual({ rejectUnauthorized: false });
    expect(parseDatabaseUrl("postgresql://h/d?sslmode=disable").ssl).toBe(false);
    expect(parseDatabaseUrl("postgresql:///d?host=/var/run/postgresql").host).toBe("/var/run/postgresql");
  });

  it("refuses URLs of other databases", () => {
    expect(() => parseDatabaseUrl("mysql://h/d")).toThrow(/postgresql:\/\//);
  });
});
