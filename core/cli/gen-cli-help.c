/* gen-cli-help.c — the CLI's text in the locale's charset, and the help of
 * each command (see gen-cli-help.h). */
#include "gen-cli-help.h"

#include <string.h>

/* ASCII for the characters the CLI's own text uses; anything else is '?'. */
static const struct
{
  gunichar    c;
  const char *ascii;
} ascii_of[] = {
  { 0x2026, "..." },  /* … */
  { 0x2192, "->" },   /* → */
  { 0x2190, "<-" },   /* ← */
  { 0x00D7, "x" },    /* × */
  { 0x2014, "--" },   /* — */
  { 0x2013, "-" },    /* – */
  { 0x2212, "-" },    /* − */
  { 0x03C3, "sigma" },/* σ */
  { 0x2264, "<=" },   /* ≤ */
  { 0x2265, ">=" },   /* ≥ */
  { 0x00B7, "." },    /* · */
  { 0x2018, "'" },    /* ‘ */
  { 0x2019, "'" },    /* ’ */
  { 0x201C, "\"" },   /* “ */
  { 0x201D, "\"" },   /* ” */
  { 0x00A0, " " },    /* no-break space */
};

char *
gen_cli_text (const char *utf8)
{
  GString *s;
  const char *p = utf8, *end = utf8 + strlen (utf8);

  if (g_get_charset (NULL))
    return g_strdup (utf8);
  s = g_string_sized_new (end - p);
  while (p < end)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);
      const char *rep = "?";

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          /* not UTF-8 (a file name's bytes): one '?' per byte */
          g_string_append_c (s, '?');
          p++;
          continue;
        }
      if (c < 0x80)
        g_string_append_c (s, (char) c);
      else
        {
          for (guint i = 0; i < G_N_ELEMENTS (ascii_of); i++)
            if (ascii_of[i].c == c)
              rep = ascii_of[i].ascii;
          g_string_append (s, rep);
        }
      p = g_utf8_next_char (p);
    }
  return g_string_free (s, FALSE);
}

void
gen_cli_print (FILE *f, const char *format, ...)
{
  va_list ap;
  char *utf8, *text;

  va_start (ap, format);
  utf8 = g_strdup_vprintf (format, ap);
  va_end (ap);
  text = gen_cli_text (utf8);
  fputs (text, f);
  g_free (text);
  g_free (utf8);
}

#define HELP_COLUMN 26
#define HELP_WIDTH  79

/* TEXT from column HELP_COLUMN, wrapped at spaces to HELP_WIDTH columns;
 * the first line goes on from column AT (on a line of its own when AT is
 * past the column). */
static void
append_wrapped (GString *s, const char *text, int at)
{
  char **words = g_strsplit (text, " ", -1);
  long col;

  if (at > HELP_COLUMN - 2)
    {
      g_string_append_c (s, '\n');
      at = 0;
    }
  g_string_append_printf (s, "%*s", HELP_COLUMN - at, "");
  col = HELP_COLUMN;
  for (int i = 0; words[i]; i++)
    {
      long len = g_utf8_strlen (words[i], -1);

      if (!*words[i])
        continue;
      if (col > HELP_COLUMN && col + 1 + len > HELP_WIDTH)
        {
          g_string_append_printf (s, "\n%*s", HELP_COLUMN, "");
          col = HELP_COLUMN;
        }
      else if (col > HELP_COLUMN)
        {
          g_string_append_c (s, ' ');
          col++;
        }
      g_string_append (s, words[i]);
      col += len;
    }
  g_string_append_c (s, '\n');
  g_strfreev (words);
}

static void
append_entry (GString *s, const GOptionEntry *e)
{
  gsize start = s->len;

  if (e->short_name)
    g_string_append_printf (s, "  -%c, --%s", e->short_name, e->long_name);
  else
    g_string_append_printf (s, "      --%s", e->long_name);
  if (e->arg_description)
    g_string_append_printf (s, " %s", e->arg_description);
  append_wrapped (s, e->description ? e->description : "",
                  (int) g_utf8_strlen (s->str + start, -1));
}

void
gen_cli_help (const GenCliCommand *cmd, const GenCliHelpSection *sections, int n_sections)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "Usage: generative %s [OPTIONS]%s%s\n\n%s\n", cmd->name,
                          *cmd->args ? " " : "", cmd->args, cmd->description);
  for (int k = 0; k < n_sections; k++)
    {
      g_string_append_printf (s, "\n%s\n", sections[k].title);
      for (const GOptionEntry *e = sections[k].entries; e->long_name; e++)
        if (!(e->flags & G_OPTION_FLAG_HIDDEN) && *e->long_name)  /* "": the arguments */
          append_entry (s, e);
    }
  g_string_append (s, "  -h, --help              this help\n");
  g_string_append_printf (s, "\nExample:\n  %s\n", cmd->example);
  gen_cli_print (stdout, "%s", s->str);
  g_string_free (s, TRUE);
}

gboolean
gen_cli_parse (const GenCliCommand *cmd, const GenCliHelpSection *sections, int n_sections,
               const gboolean *help, int *argc, char ***argv, gboolean *shown, GError **error)
{
  GOptionContext *ctx = g_option_context_new (NULL);
  gboolean ok;

  /* GOption's help would print "…" as "?" outside UTF-8 locales */
  g_option_context_set_help_enabled (ctx, FALSE);
  for (int k = 0; k < n_sections; k++)
    g_option_context_add_main_entries (ctx, sections[k].entries, NULL);
  ok = g_option_context_parse (ctx, argc, argv, error);
  g_option_context_free (ctx);
  *shown = ok && *help;
  if (*shown)
    gen_cli_help (cmd, sections, n_sections);
  return ok;
}
