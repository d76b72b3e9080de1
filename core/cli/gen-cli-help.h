/* gen-cli-help.h — what the CLI prints for people: text in the locale's
 * charset (UTF-8, or plain ASCII with "..." for "…", "->" for "→", "x" for
 * "×" elsewhere), and each command's help built from its option entries. */
#pragma once

#include <glib.h>
#include <stdio.h>

G_BEGIN_DECLS

/* UTF8 as the terminal can show it: a copy, or its ASCII transliteration
 * when the locale's charset is not UTF-8.  Free with g_free. */
char *gen_cli_text (const char *utf8);
/* Prints (a printf format in UTF-8) to F through gen_cli_text. */
void  gen_cli_print (FILE *f, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* One titled list of options: entries up to the NULL one; those flagged
 * G_OPTION_FLAG_HIDDEN are left out. */
typedef struct
{
  const char         *title;
  const GOptionEntry *entries;
} GenCliHelpSection;

/* A command, as its help shows it. */
typedef struct
{
  const char *name, *args, *description, *example;
} GenCliCommand;

/* CMD's help on stdout: "Usage: generative NAME [OPTIONS] ARGS", the
 * description, the sections and the example. */
void     gen_cli_help (const GenCliCommand *cmd, const GenCliHelpSection *sections,
                       int n_sections);
/* Parses ARGC, ARGV (consumed as GOption does) with the SECTIONS' entries,
 * one of which, hidden, sets *HELP for --help; then, if it is set, prints
 * CMD's help and sets *SHOWN.  FALSE with ERROR for a bad argument. */
gboolean gen_cli_parse (const GenCliCommand *cmd, const GenCliHelpSection *sections,
                        int n_sections, const gboolean *help, int *argc, char ***argv,
                        gboolean *shown, GError **error);

G_END_DECLS
