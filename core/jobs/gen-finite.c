/* gen-finite.c — a model's output checked for NaN and Inf before the jobs
 * go on with it.
 *
 * Corrupt weights (NaN or Inf, or F16 values that overflow once scaled) do
 * not stop a forward pass: without this check they become a black image
 * written with success.  Each tile function checks the tile it produced, so
 * the error names the model and the step while nothing has been written. */
#include "gen-job-private.h"

#include <math.h>

/* The first non-finite value of X [N] as "NaN" or "Inf", or NULL.  x − x
 * is 0 for a number and NaN for NaN or ±Inf, summed in 16 lanes so the
 * scan vectorises; the rare bad tile is then searched value by value. */
static const char *
first_non_finite (const float *x, int64_t n)
{
  float lane[16] = { 0 }, acc = 0.0f;
  int64_t i = 0;

  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; l++)
      lane[l] += x[i + l] - x[i + l];
  for (; i < n; i++)
    acc += x[i] - x[i];
  for (int l = 0; l < 16; l++)
    acc += lane[l];
  if (acc == 0.0f)
    return NULL;
  for (i = 0; i < n; i++)
    if (!isfinite (x[i]))
      return isnan (x[i]) ? "NaN" : "Inf";
  return NULL;
}

gboolean
gen_run_check_finite (GenRun *r, GenModel *model, const char *part, const GenTensor *t,
                      GError **error)
{
  GenModelInfo info;
  const char *bad;

  if (!t->data || !(bad = first_non_finite (t->data, gen_tensor_numel (t))))
    return TRUE;
  gen_model_get_info (model, &info);
  if (info.kind == GEN_MODEL_UNET)
    g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                 "the %s (%s) produced %s at step %d of %d — its weights may be corrupt", part,
                 info.class_name, bad, MIN (r->done + 1, r->total), r->total);
  else
    g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                 "the %s (%s) produced %s — its weights may be corrupt", part, info.class_name,
                 bad);
  return FALSE;
}
