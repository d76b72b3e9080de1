/* noise-dump — prints gen_estimate_noise of each image file given, one
 * number a line (0..255 scale), for weights/eval_sigma.py. */
#include <stdio.h>

#include "gen-image.h"
#include "gen-job.h"

int
main (int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    {
      GError *error = NULL;
      GenImage *img = gen_image_load (argv[i], &error);
      GenPixels px;

      if (!img)
        {
          fprintf (stderr, "noise-dump: %s\n", error->message);
          g_error_free (error);
          return 1;
        }
      px = (GenPixels) { img->data, img->width, img->height, img->channels };
      printf ("%.4f\n", gen_estimate_noise (&px));
      gen_image_free (img);
    }
  return 0;
}
