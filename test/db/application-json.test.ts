import test from 'ava';
import { applicationFromJson, applicationJsonColumn, dateString } from '../../server/applications/application.model.ts';
import { testBackends } from '../helpers/database.ts';
import { newVisitor, submitApplication } from '../helpers/flow.ts';
import { startTestServer } from '../helpers/server.ts';

/**
 * The task view and a task's completion read their application as JSON inside the task's own statement, and
 * applicationFromJson turns it back into the row a plain read gives: the visit window compared with the clock,
 * the decision time shown. Its timestamp columns are a list kept by hand; a timestamp column added to the table
 * and not to that list would come back as text there and compare wrongly. Every column is checked here, with every
 * timestamp of the application set, so such a column fails this test.
 */
for (const kind of await testBackends()) {
  test(`${kind}: an application read inside another statement equals the same application read on its own`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { knex } = server.db;
      const app = await submitApplication(server, (await newVisitor(server)).client);
      const columns: Array<{ column_name: string; data_type: string }> = (
        await knex.raw(
          "select column_name, data_type from information_schema.columns where table_schema = current_schema() and table_name = 'applications'",
        )
      ).rows;
      const timestamps = columns.filter((c) => c.data_type.startsWith('timestamp')).map((c) => c.column_name);
      t.true(timestamps.includes('window_start') && timestamps.includes('decided_at'), 'the schema query finds the timestamps');
      // A distinct instant per column, none of them null, so a column left out cannot pass by being empty.
      const instants = Object.fromEntries(timestamps.map((name, i) => [name, new Date(Date.UTC(2026, 11, 1, 8, i, 30, 125))]));
      await knex('applications').where({ id: app.id }).update(instants);

      const plain = await knex('applications').where({ id: app.id }).first();
      const { application_row: json } = await knex.select(applicationJsonColumn(knex, app.id, 'application_row')).first();
      const rebuilt: Record<string, unknown> = applicationFromJson(json) as any;

      t.deepEqual(Object.keys(rebuilt).sort(), Object.keys(plain).sort());
      const dates = new Set(columns.filter((c) => c.data_type === 'date').map((c) => c.column_name));
      for (const name of Object.keys(plain)) {
        // A DATE is a local-midnight Date in a row and text in JSON; both are read through dateString().
        if (dates.has(name)) t.is(dateString(rebuilt[name] as string), dateString(plain[name]), name);
        else t.deepEqual(rebuilt[name], plain[name], name);
      }
      for (const name of timestamps) t.is((rebuilt[name] as Date).getTime(), instants[name].getTime(), `${name} is a Date at its instant`);
    } finally {
      await server.close();
    }
  });
}
