import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('campuses', (t) => {
    t.increments('id');
    t.string('code', 32).notNullable().unique();
    t.string('name', 100).notNullable();
    t.string('opens_at', 5).notNullable().defaultTo('07:00');
    t.string('closes_at', 5).notNullable().defaultTo('23:00');
    t.boolean('active').notNullable().defaultTo(true);
    t.timestamps(true, true);
  });
  await knex.schema.createTable('departments', (t) => {
    t.increments('id');
    t.integer('campus_id').notNullable().references('campuses.id');
    t.string('code', 32).notNullable().unique();
    t.string('name', 100).notNullable();
    t.boolean('active').notNullable().defaultTo(true);
    t.timestamps(true, true);
  });
  await knex.schema.createTable('staff', (t) => {
    t.increments('id');
    t.string('username', 64).notNullable().unique();
    t.string('name', 100).notNullable();
    t.text('mobile_enc').notNullable();
    t.string('mobile_bidx', 64).notNullable().index();
    t.string('mobile_masked', 20).notNullable();
    t.integer('department_id').references('departments.id');
    t.jsonb('roles').notNullable().defaultTo('[]');
    t.text('password_hash').notNullable();
    t.boolean('active').notNullable().defaultTo(true);
    t.timestamps(true, true);
  });
  await knex.schema.createTable('visitors', (t) => {
    t.increments('id');
    t.string('name', 100).notNullable();
    t.string('organisation', 200).notNullable();
    t.text('id_number_enc').notNullable();
    t.string('id_number_bidx', 64).notNullable().unique();
    t.string('id_number_masked', 20).notNullable();
    t.text('mobile_enc').notNullable();
    t.string('mobile_bidx', 64).notNullable().unique();
    t.string('mobile_masked', 20).notNullable();
    t.string('gender', 1).notNullable();
    t.date('birth_date').notNullable();
    t.text('password_hash').notNullable();
    t.timestamp('last_login_at', { useTz: true });
    t.timestamps(true, true);
  });
  await knex.schema.createTable('sessions', (t) => {
    t.string('id', 64).primary(); // sha256 of the cookie token: a leaked table does not give live sessions
    t.string('kind', 16).notNullable();
    t.integer('subject_id').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable().index();
    t.index(['kind', 'subject_id']);
  });
  await knex.schema.createTable('login_attempts', (t) => {
    t.string('key', 128).primary();
    t.integer('failures').notNullable().defaultTo(0);
    t.timestamp('window_started_at', { useTz: true }).notNullable();
    t.timestamp('locked_until', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['login_attempts', 'sessions', 'visitors', 'staff', 'departments', 'campuses']) {
    await knex.schema.dropTableIfExists(table);
  }
}
