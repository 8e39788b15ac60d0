// The database route every JS variant serves, on whichever D1 database the variant found for the
// request's tenant: one SELECT by primary key.
export const noteRoute = (database) => async (c) => {
  const note = await database(c).prepare("SELECT id, body FROM notes WHERE id = ?").bind(Number(c.req.param("id"))).first();
  return note ? c.json({ tenant: c.req.param("tenant"), note }) : c.json({ error: "no such note" }, 404);
};
