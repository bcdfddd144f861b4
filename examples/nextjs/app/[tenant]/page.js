// A server component: it reads the tenant's database while rendering, no API round trip.
import { notFound } from 'next/navigation';
import { notesOf } from '@/lib/db';

export default async function TenantNotes({ params }) {
  const { tenant } = await params;
  const Note = notesOf(tenant);
  if (!Note) notFound();
  const notes = await Note.find().sort({ createdAt: -1 }).limit(100).lean();
  return (
    <main>
      <h1>Notes of {tenant}</h1>
      {notes.length === 0 ? (
        <p>No notes yet: POST <code>{'{"text": "..."}'}</code> to <code>/api/{tenant}/notes</code>.</p>
      ) : (
        <ul>
          {notes.map((note) => (
            <li key={String(note._id)}>
              {note.text} <small>{note.createdAt.toISOString()}</small>
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
